#include "node/node_restore.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "node/ready_hooks.h"
#include "node/restore_journal.h"

namespace lifeboat::node {
namespace {

using Clock = std::chrono::steady_clock;

int64_t realtime_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

// Seconds until `fraction` of `n` accounts were ready, from the sorted ready
// times of those that were (< 0 if that many never were).
double time_to(const std::vector<double>& ready_sorted, size_t n, double fraction) {
  if (n == 0) return 0;
  size_t needed = static_cast<size_t>(std::ceil(fraction * static_cast<double>(n)));
  needed = std::max<size_t>(1, needed);
  if (ready_sorted.size() < needed) return -1;
  return ready_sorted[needed - 1];
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

RestoreOrder parse_restore_order(const std::string& text) {
  if (text == "size" || text == "smallest") return RestoreOrder::kSmallest;
  if (text == "name") return RestoreOrder::kName;
  if (text == "largest") return RestoreOrder::kLargest;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown restore order '" + text + "'; use size (smallest first), name or largest");
}

const char* account_state_name(AccountState s) {
  switch (s) {
    case AccountState::kReady: return "ready";
    case AccountState::kFailed: return "failed";
    case AccountState::kHookFailed: return "hook_failed";
  }
  return "?";
}

std::vector<std::pair<Id, repo::Snapshot>> newest_per_account(
    const std::vector<std::pair<Id, repo::Snapshot>>& snapshots, const std::string& node,
    std::optional<UnixNanos> at, bool even_if_partial) {
  using Entry = const std::pair<Id, repo::Snapshot>*;
  std::map<std::string, std::pair<Entry, Entry>> newest;  // (newest, newest complete)
  auto newer = [](Entry slot, Entry e) { return !slot || e->second.time >= slot->second.time; };
  for (const auto& entry : snapshots) {
    const repo::Snapshot& s = entry.second;
    if (s.node != node || s.account.empty()) continue;
    if (at && s.time > *at) continue;
    auto& [any, complete] = newest[s.account];
    if (newer(any, &entry)) any = &entry;
    if (!s.partial && newer(complete, &entry)) complete = &entry;
  }
  std::vector<std::pair<Id, repo::Snapshot>> out;
  for (const auto& [name, pick] : newest)
    out.push_back(!even_if_partial && pick.second ? *pick.second : *pick.first);
  return out;
}

std::vector<size_t> restore_order(const std::vector<std::pair<std::string, uint64_t>>& accounts,
                                  const std::vector<std::string>& priority, RestoreOrder order) {
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < priority.size(); ++i) rank.emplace(priority[i], i);
  std::vector<size_t> idx(accounts.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    auto ra = rank.find(accounts[a].first), rb = rank.find(accounts[b].first);
    const bool pa = ra != rank.end(), pb = rb != rank.end();
    if (pa != pb) return pa;
    if (pa) return ra->second < rb->second;
    const auto& [na, sa] = accounts[a];
    const auto& [nb, sb] = accounts[b];
    if (order == RestoreOrder::kSmallest && sa != sb) return sa < sb;
    if (order == RestoreOrder::kLargest && sa != sb) return sa > sb;
    return na < nb;
  });
  return idx;
}

NodeRestoreResult run_node_restore(repo::Repository& repo, const NodeRestoreOptions& options) {
  if (options.node.empty())
    throw Error(ErrorCode::kInvalidArgument, "the node name must not be empty");
  if (options.target.empty())
    throw Error(ErrorCode::kInvalidArgument, "no restore target given");
  const auto t0 = Clock::now();
  const int64_t t0_real = realtime_ns();
  auto since_start = [&](int64_t real_ns) { return static_cast<double>(real_ns - t0_real) / 1e9; };

  NodeRestoreResult result;
  result.node = options.node;
  result.target = options.target;
  result.state_dir =
      options.state_dir.empty() ? join_path(options.target, ".lifeboat-restore") : options.state_dir;
  const std::string& state_dir = result.state_dir;

  // Which snapshot each account comes from: fixed by the first run.
  const auto snapshots = repo.list_snapshots();
  std::map<Id, const repo::Snapshot*> by_id;
  for (const auto& [id, s] : snapshots) by_id[id] = &s;
  // Resuming with another repository first (the one of the first run is
  // down): the journal's snapshots are looked up in the others too.
  std::vector<std::vector<std::pair<Id, repo::Snapshot>>> more_snapshots;
  auto find_elsewhere = [&](const Id& id) -> const repo::Snapshot* {
    if (more_snapshots.empty())
      for (repo::Repository* other : options.more_repos)
        more_snapshots.push_back(other->list_snapshots());
    for (const auto& list : more_snapshots)
      for (const auto& [sid, s] : list)
        if (sid == id) return &s;
    return nullptr;
  };

  std::optional<RestoreJournal> journal;
  if (RestoreJournal::exists(state_dir)) {
    if (options.restart) {
      RestoreJournal::discard(state_dir);
    } else if (!options.resume) {
      throw Error(ErrorCode::kInvalidArgument,
                  "a node restore into " + options.target + " was started before (its state is in " +
                      state_dir + "); add --resume to continue it or --restart to start over");
    } else {
      journal.emplace(RestoreJournal::load(state_dir));
      if (journal->node() != options.node)
        throw Error(ErrorCode::kInvalidArgument,
                    "the node restore state in " + state_dir + " is for node " + journal->node() +
                        ", not " + options.node + "; use --restart to start over");
    }
  }
  if (!journal) {
    auto chosen =
        newest_per_account(snapshots, options.node, options.at, options.newest_even_if_partial);
    if (!options.accounts.empty()) {
      std::vector<std::pair<Id, repo::Snapshot>> only;
      std::string unknown;
      for (const std::string& name : options.accounts) {
        auto it = std::find_if(chosen.begin(), chosen.end(),
                               [&](const auto& e) { return e.second.account == name; });
        if (it == chosen.end())
          unknown += (unknown.empty() ? "" : ", ") + name;
        else
          only.push_back(*it);
      }
      if (!unknown.empty())
        throw Error(ErrorCode::kNotFound, "no snapshot of account(s) " + unknown + " of node " +
                                              options.node + " in " + repo.backend().location() +
                                              "; see 'lifeboat node status --node " +
                                              options.node + "'");
      chosen = std::move(only);
    }
    if (chosen.empty())
      throw Error(ErrorCode::kNotFound,
                  "no snapshots of node " + options.node + " in " + repo.backend().location() +
                      (options.at ? " at or before the given time" : "") +
                      "; check the node name with 'lifeboat snapshots'");
    std::vector<RestoreJournal::Entry> plan;
    for (const auto& [id, s] : chosen) plan.push_back({s.account, id});
    journal.emplace(RestoreJournal::start(state_dir, options.node, std::move(plan)));
  }

  // The accounts, in restore order.
  std::vector<AccountRestore> accounts;
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const auto& e : journal->plan()) {
    if (!by_id.count(e.snapshot) && !options.more_repos.empty())
      if (const repo::Snapshot* s = find_elsewhere(e.snapshot)) by_id[e.snapshot] = s;
    AccountRestore a;
    a.account = e.account;
    a.snapshot_id = e.snapshot;
    if (auto it = by_id.find(e.snapshot); it != by_id.end()) {
      a.snapshot_time = it->second->time;
      a.snapshot_partial = it->second->partial;
      a.bytes = it->second->summary.bytes_total;
      const auto& m = it->second->summary;
      a.files = m.files_new + m.files_changed + m.files_unmodified;
    }
    sizes.emplace_back(a.account, a.bytes);
    accounts.push_back(std::move(a));
  }
  {
    std::vector<AccountRestore> ordered;
    for (size_t i : restore_order(sizes, options.priority, options.order))
      ordered.push_back(std::move(accounts[i]));
    accounts = std::move(ordered);
  }

  std::mutex mu;  // guards accounts[] and serializes on_event
  auto event = [&](const std::string& account, const std::string& what, const std::string& detail) {
    if (options.on_event) options.on_event(account, what, detail);
  };

  // Hooks run beside the restore, in the order accounts become ready.
  std::unique_ptr<ReadyHooks> hooks;
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < accounts.size(); ++i) index_of[accounts[i].account] = i;
  auto went_online = [&](size_t i) {
    journal->mark_online(accounts[i].account);
    accounts[i].online = since_start(realtime_ns());
  };
  if (!options.ready_hook.empty())
    hooks = std::make_unique<ReadyHooks>(
        options.ready_hook, options.hook_timeout_seconds, join_path(state_dir, "hooks.log"), 2,
        [&](const HookJob& job, const std::string& error) {
          std::lock_guard lock(mu);
          const size_t i = index_of.at(job.account);
          if (error.empty()) {
            went_online(i);
            event(job.account, "online", "");
          } else {
            accounts[i].state = AccountState::kHookFailed;
            accounts[i].error = error;
            event(job.account, "hook_failed", error);
          }
        });
  auto ready = [&](size_t i) {  // under mu
    AccountRestore& a = accounts[i];
    a.state = AccountState::kReady;
    a.error.clear();
    event(a.account, "ready", "");
    if (hooks)
      hooks->submit(HookJob{a.account, join_path(options.target, a.account), a.snapshot_id.hex(),
                            options.node});
    else
      went_online(i);
  };

  // Ready in an earlier run: not restored again; a hook that never
  // completed runs now.
  std::vector<size_t> pending;
  for (size_t i = 0; i < accounts.size(); ++i) {
    AccountRestore& a = accounts[i];
    if (!journal->ready(a.account)) {
      if (by_id.count(a.snapshot_id)) {
        pending.push_back(i);
      } else {
        a.state = AccountState::kFailed;
        a.error = "snapshot " + a.snapshot_id.hex() +
                  " is no longer in the repository; start over with --restart";
      }
      continue;
    }
    a.resumed = true;
    a.ready = 0;
    if (journal->online(a.account)) {
      a.state = AccountState::kReady;
      a.online = 0;
    } else {
      std::lock_guard lock(mu);
      ready(i);
    }
  }

  for (int attempt = 0; attempt <= options.retries && !pending.empty(); ++attempt) {
    std::vector<restore::BatchItem> items;
    std::vector<std::string> names;
    for (size_t i : pending) {
      items.push_back(restore::BatchItem{accounts[i].account,
                                         by_id.at(accounts[i].snapshot_id)->tree});
      names.push_back(accounts[i].account);
    }
    restore::BatchOptions bo;
    bo.restore.restore_owner = options.restore_owner;
    bo.restore.fetch_threads = options.fetch_threads;
    bo.restore.worker_threads = options.worker_threads;
    bo.restore.verify = options.verify;
    bo.restore.more_repos = options.more_repos;
    std::vector<restore::SourceStats> sources;
    bo.source_stats = &sources;
    // First attempt: keep what an interrupted run completed. A retry
    // rewrites everything of the account (what was kept may be what failed).
    bo.restore.keep_complete_files = attempt == 0 && options.resume;
    restore::BatchProgress progress(items.size());
    bo.progress = &progress;
    if (options.on_error)
      bo.on_error = [&](size_t item, const std::string& path, const std::string& message) {
        options.on_error(names[item], path, message);
      };
    std::vector<size_t> failed;
    bo.on_item_done = [&](size_t item, const restore::ItemResult& r) {
      std::lock_guard lock(mu);
      const size_t i = pending[item];
      AccountRestore& a = accounts[i];
      a.attempts = attempt + 1;
      a.files_kept += r.files_kept;
      a.errors = r.counts.errors;
      a.mismatches = r.mismatches;
      result.bytes_written += r.counts.bytes;
      if (a.started < 0) a.started = since_start(r.started_ns);
      a.restored = since_start(r.restored_ns);
      if (r.ok()) {
        a.ready = since_start(r.finished_ns);
        journal->mark_ready(a.account);
        ready(i);
        return;
      }
      a.state = AccountState::kFailed;
      if (r.failure)
        a.error = r.failure_message;
      else
        a.error = std::to_string(r.counts.errors) + " entries could not be restored, " +
                  std::to_string(r.mismatches) + " differ from the snapshot";
      failed.push_back(i);
      event(a.account, "retry", a.error);
    };
    if (options.on_batch) options.on_batch(&progress, &names);
    try {
      restore::run_batch(repo, options.target, items, bo);
    } catch (...) {
      if (options.on_batch) options.on_batch(nullptr, nullptr);
      if (hooks) hooks->finish();
      throw;
    }
    if (options.on_batch) options.on_batch(nullptr, nullptr);
    result.bytes_fetched += progress.bytes_fetched.load();
    if (result.sources.empty())
      result.sources = std::move(sources);
    else
      for (size_t k = 0; k < sources.size() && k < result.sources.size(); ++k)
        result.sources[k] += sources[k];
    std::lock_guard lock(mu);
    std::sort(failed.begin(), failed.end());
    pending = std::move(failed);
  }
  for (size_t i : pending) event(accounts[i].account, "failed", accounts[i].error);
  if (hooks) hooks->finish();

  std::vector<double> ready_times;
  for (const AccountRestore& a : accounts) {
    switch (a.state) {
      case AccountState::kReady: ++result.ready; break;
      case AccountState::kFailed: ++result.failed; break;
      case AccountState::kHookFailed: ++result.hook_failed; break;
    }
    if (a.resumed) ++result.resumed;
    if (a.state != AccountState::kFailed && a.ready >= 0) ready_times.push_back(a.ready);
  }
  std::sort(ready_times.begin(), ready_times.end());
  result.ready_50 = time_to(ready_times, accounts.size(), 0.5);
  result.ready_90 = time_to(ready_times, accounts.size(), 0.9);
  result.ready_100 = time_to(ready_times, accounts.size(), 1.0);
  result.accounts = std::move(accounts);
  result.duration_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  write_timeline(result, join_path(state_dir, "timeline"));
  return result;
}

void write_timeline(const NodeRestoreResult& r, const std::string& prefix) {
  auto seconds = [](double s) { return s < 0 ? nlohmann::json(nullptr) : nlohmann::json(s); };
  nlohmann::json accounts = nlohmann::json::array();
  std::string csv =
      "account,snapshot,bytes,files,state,started_s,restored_s,ready_s,online_s,resumed\n";
  auto csv_seconds = [](double s) { return s < 0 ? std::string() : std::to_string(s); };
  for (const AccountRestore& a : r.accounts) {
    accounts.push_back({{"account", a.account},
                        {"snapshot", a.snapshot_id.hex()},
                        {"bytes", a.bytes},
                        {"files", a.files},
                        {"state", account_state_name(a.state)},
                        {"started_s", seconds(a.started)},
                        {"restored_s", seconds(a.restored)},
                        {"ready_s", seconds(a.ready)},
                        {"online_s", seconds(a.online)},
                        {"resumed", a.resumed}});
    csv += csv_field(a.account) + "," + a.snapshot_id.hex() + "," + std::to_string(a.bytes) + "," +
           std::to_string(a.files) + "," + account_state_name(a.state) + "," +
           csv_seconds(a.started) + "," + csv_seconds(a.restored) + "," + csv_seconds(a.ready) + "," + csv_seconds(a.online) +
           "," + (a.resumed ? "true" : "false") + "\n";
  }
  nlohmann::json doc = {{"node", r.node},
                        {"target", r.target},
                        {"duration_s", r.duration_seconds},
                        {"accounts_total", r.accounts.size()},
                        {"accounts_ready", r.ready},
                        {"ready_50_s", seconds(r.ready_50)},
                        {"ready_90_s", seconds(r.ready_90)},
                        {"ready_100_s", seconds(r.ready_100)},
                        {"accounts", accounts}};
  for (const auto& [path, text] :
       {std::pair{prefix + ".json",
                  doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"},
        std::pair{prefix + ".csv", csv}}) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error(ErrorCode::kIo, "cannot write the restore timeline " + path);
  }
}

}  // namespace lifeboat::node
