// lifeboat node restore --node N --target DIR: every account of a node back,
// most accounts online soonest (src/node/node_restore.h does the work; this
// file parses flags, shows progress and prints the result).
#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/restore_repos.h"
#include "node/node_restore.h"

namespace lifeboat::cli {
namespace {

struct RestoreFlags {
  std::string node;
  std::string target;
  std::string at;
  std::vector<std::string> accounts;
  std::string priority_file;
  std::string order = "size";
  std::string hook;
  int hook_timeout = 600;
  bool resume = false;
  bool restart = false;
  int retries = 1;
  bool no_verify = false;
  bool no_owner = false;
  bool newest = false;
  std::string timeline;
};

// Names one a line; blank lines and # comments skipped.
std::vector<std::string> read_priority_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw Error(ErrorCode::kNotFound,
                "cannot read the priority file " + path + "; check the path given to --priority-file");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    names.push_back(line.substr(start));
  }
  return names;
}

// What the status line shows: the attempt running now, and accounts ready.
struct LiveState {
  std::mutex mu;
  const restore::BatchProgress* batch = nullptr;  // guarded by mu
  const std::vector<std::string>* names = nullptr;
  std::atomic<size_t> ready{0};
  size_t total = 0;  // guarded by mu
};

// "accounts 37/120 ready  bytes 1.2 GiB/3.1 GiB  150.0 MiB/s  ETA 00:12
//  giants: big1 40%, big2 10%"
std::string render_status(LiveState& live, std::chrono::steady_clock::time_point started) {
  std::lock_guard lock(live.mu);
  std::string line = fmt::format("accounts {}/{} ready", live.ready.load(), live.total);
  const restore::BatchProgress* b = live.batch;
  if (!b) return line;
  if (!b->planned) return line + "  planning";
  const uint64_t done = b->total.bytes_done.load(), total = b->total.bytes_total.load();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double rate = elapsed > 0.2 ? static_cast<double>(done) / elapsed : 0;
  line += fmt::format("  bytes {}/{}  {:.1f} MiB/s", format_bytes(done), format_bytes(total),
                      rate / (1024 * 1024));
  if (rate > 0 && total >= done)
    line += "  ETA " + format_eta(static_cast<double>(total - done) / rate);
  // The giants: accounts still in progress with the most bytes left.
  std::vector<std::pair<uint64_t, size_t>> left;
  for (size_t i = 0; i < b->size; ++i) {
    if (b->phases[i].load() != restore::BatchProgress::kPlanned) continue;
    const uint64_t t = b->items[i].bytes_total.load(), d = b->items[i].bytes_done.load();
    if (d > 0 && t > d) left.emplace_back(t - d, i);
  }
  std::sort(left.rbegin(), left.rend());
  for (size_t k = 0; k < left.size() && k < 2; ++k) {
    const size_t i = left[k].second;
    const uint64_t t = b->items[i].bytes_total.load();
    line += fmt::format("{} {} {}%", k == 0 ? "  giants:" : ",", printable((*live.names)[i]),
                        t ? 100 * b->items[i].bytes_done.load() / t : 100);
  }
  return line;
}

Json seconds_json(double s) { return s < 0 ? Json(nullptr) : Json(s); }

Json result_json(const node::NodeRestoreResult& r) {
  Json accounts = Json::array();
  for (const auto& a : r.accounts)
    accounts.push_back(Json{{"account", json_bytes(a.account)},
                            {"snapshot_id", a.snapshot_id.hex()},
                            {"snapshot_time", format_rfc3339(a.snapshot_time)},
                            {"snapshot_partial", a.snapshot_partial},
                            {"state", node::account_state_name(a.state)},
                            {"resumed", a.resumed},
                            {"attempts", a.attempts},
                            {"bytes", a.bytes},
                            {"files", a.files},
                            {"files_kept", a.files_kept},
                            {"errors", a.errors},
                            {"mismatches", a.mismatches},
                            {"started_s", seconds_json(a.started)},
                            {"restored_s", seconds_json(a.restored)},
                            {"ready_s", seconds_json(a.ready)},
                            {"online_s", seconds_json(a.online)},
                            {"error", a.error.empty() ? Json(nullptr) : Json(a.error)}});
  return Json{{"node", json_bytes(r.node)},
              {"target", json_bytes(r.target)},
              {"state_dir", json_bytes(r.state_dir)},
              {"accounts", accounts},
              {"summary",
               {{"accounts", r.accounts.size()},
                {"ready", r.ready},
                {"failed", r.failed},
                {"hook_failed", r.hook_failed},
                {"resumed", r.resumed},
                {"bytes_written", r.bytes_written},
                {"bytes_fetched", r.bytes_fetched},
                {"duration_seconds", r.duration_seconds},
                {"ready_50_s", seconds_json(r.ready_50)},
                {"ready_90_s", seconds_json(r.ready_90)},
                {"ready_100_s", seconds_json(r.ready_100)}}}};
}

std::string time_or_dash(double s) { return s < 0 ? std::string("-") : format_seconds(s); }

int run(const RestoreFlags& f, const GlobalOptions& g) {
  if (f.node.empty()) throw Error(ErrorCode::kInvalidArgument, "--node must not be empty");
  if (f.resume && f.restart)
    throw Error(ErrorCode::kInvalidArgument, "--resume and --restart exclude each other");
  node::NodeRestoreOptions o;
  o.node = f.node;
  o.target = f.target;
  if (!f.at.empty()) o.at = parse_time_flag(f.at);
  o.accounts = f.accounts;
  o.newest_even_if_partial = f.newest;
  if (!f.priority_file.empty()) o.priority = read_priority_file(f.priority_file);
  o.order = node::parse_restore_order(f.order);
  o.ready_hook = f.hook;
  o.hook_timeout_seconds = f.hook_timeout;
  o.resume = f.resume;
  o.restart = f.restart;
  o.retries = f.retries;
  o.verify = !f.no_verify;
  o.restore_owner = !f.no_owner;

  auto live = std::make_shared<LiveState>();
  o.on_error = [](const std::string& account, const std::string& path, const std::string& message) {
    print_warning("account " + printable(account) + ": " + printable(path) + ": " + message);
  };
  o.on_event = [live](const std::string& account, const std::string& what,
                      const std::string& detail) {
    if (what == "ready") ++live->ready;
    if (what == "retry") print_warning("account " + printable(account) + " failed, will retry: " + detail);
    if (what == "failed") print_warning("account " + printable(account) + " could not be restored: " + detail);
    if (what == "hook_failed") print_warning("account " + printable(account) + ": " + detail);
  };
  o.on_batch = [live](const restore::BatchProgress* b, const std::vector<std::string>* names) {
    std::lock_guard lock(live->mu);
    live->batch = b;
    live->names = names;
    // The first batch holds every account not ready in an earlier run.
    if (b && live->total == 0) live->total = live->ready + b->size;
  };

  RestoreRepos repos = open_restore_repos(g);
  // The primary: the first repository with snapshots of the node (its
  // snapshots decide what is restored).
  if (repos.repos.size() > 1)
    repos.choose_primary([&](repo::Repository& repo) {
      for (const auto& [id, s] : repo.list_snapshots())
        if (s.node == f.node && !s.account.empty()) return true;
      return false;
    });
  repo::Repository* repo = &repos.primary();
  o.more_repos = repos.more();
  const auto started = std::chrono::steady_clock::now();
  StatusLine status(progress_wanted(g), [live, started] { return render_status(*live, started); });
  node::NodeRestoreResult r = node::run_node_restore(*repo, o);
  status.stop();
  if (!f.timeline.empty()) node::write_timeline(r, f.timeline);

  if (g.json) {
    Json j = result_json(r);
    if (repos.several) j["repositories"] = restore_repos_json(repos, r.sources);
    print_json(j);
  } else if (!g.quiet) {
    std::string text = fmt::format("{:<20} {:<11} {:>11} {:>8} {:>9} {:>9}  {}\n", "account",
                                   "state", "size", "files", "ready", "online", "snapshot");
    for (const auto& a : r.accounts)
      text += fmt::format("{:<20} {:<11} {:>11} {:>8} {:>9} {:>9}  {}{}\n", printable(a.account),
                          node::account_state_name(a.state), format_bytes(a.bytes), a.files,
                          a.resumed ? "earlier" : time_or_dash(a.ready), time_or_dash(a.online),
                          a.snapshot_id.short_hex(), a.error.empty() ? "" : "  " + one_line(a.error));
    text += fmt::format(
        "node {}: {} of {} accounts ready ({} failed, {} hook failed, {} from an earlier run) "
        "in {}; 50% ready at {}, 90% at {}, 100% at {}; {} written, {} fetched\n"
        "timeline: {}/timeline.json and .csv\n",
        printable(r.node), r.ready, r.accounts.size(), r.failed, r.hook_failed, r.resumed,
        format_seconds(r.duration_seconds), time_or_dash(r.ready_50), time_or_dash(r.ready_90),
        time_or_dash(r.ready_100), format_bytes(r.bytes_written), format_bytes(r.bytes_fetched),
        printable(r.state_dir));
    if (repos.several) text += restore_repos_text(repos, r.sources);
    print_out(text);
  }
  if (!r.all_ready()) {
    print_error(fmt::format("node restore of {} is partial: {} of {} accounts failed, {} ready "
                            "hooks failed; fix the cause and run it again with --resume",
                            printable(r.node), r.failed, r.accounts.size(), r.hook_failed));
    return kExitPartial;
  }
  return kExitOk;
}

}  // namespace

NodeSubcommand setup_node_restore(CLI::App& node_cmd, const GlobalOptions& g) {
  auto f = std::make_shared<RestoreFlags>();
  auto* c = node_cmd.add_subcommand(
      "restore", "restore every account of a node, smallest first, each verified");
  c->fallthrough();
  c->add_option("--node", f->node, "the hosting node's name")->required();
  c->add_option("-t,--target", f->target,
                "the directory the accounts go into, one directory each (e.g. /home)")
      ->required();
  c->add_option("--at", f->at,
                "restore the newest snapshots at or before TIME (RFC 3339, e.g. "
                "2026-11-25T03:00:00Z, or local '2026-11-25 04:00')");
  c->add_flag("--newest", f->newest,
              "take each account's newest snapshot even if it is partial (by default the "
              "newest complete one, a partial one only when there is nothing else)");
  c->add_option("--accounts", f->accounts, "only these accounts (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  c->add_option("--priority-file", f->priority_file,
                "restore the accounts named in FILE first, in its order (one a line)");
  c->add_option("--order", f->order,
                "order of the other accounts: size (smallest first; default), name, largest");
  c->add_option("--on-account-ready", f->hook,
                "run CMD (with /bin/sh) once an account is restored and verified; the "
                "account name replaces {account} or is appended");
  c->add_option("--hook-timeout", f->hook_timeout, "seconds a ready hook may run (default 600)")
      ->check(CLI::Range(1, 86400));
  c->add_flag("--resume", f->resume,
              "continue an interrupted node restore into the same target (finished accounts "
              "and files are kept)");
  c->add_flag("--restart", f->restart, "discard an earlier node restore's state and start over");
  c->add_option("--retries", f->retries, "extra attempts for an account that failed (default 1)")
      ->check(CLI::Range(0, 10));
  c->add_flag("--no-verify", f->no_verify,
              "do not read accounts back and compare them with their snapshots before they "
              "count as ready");
  c->add_flag("--no-owner", f->no_owner, "do not restore numeric owners (uid/gid)");
  c->add_option("--timeline", f->timeline,
                "also write the timeline to PREFIX.json and PREFIX.csv (it is always written "
                "to the state directory)");
  return NodeSubcommand{c, [f, &g] { return run(*f, g); }};
}

}  // namespace lifeboat::cli
