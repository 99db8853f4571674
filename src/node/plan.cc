// The plan of one repository as named steps (select, measure, probe,
// estimate), several repositories side by side, and the recommendation.
#include "node/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>
#include <unordered_map>

#include "node/node_status.h"

namespace lifeboat::node {
namespace {

double seconds_between(UnixNanos from, UnixNanos to) {
  return static_cast<double>(to - from) / 1e9;
}

uint64_t entries_of(const repo::SnapshotSummary& s) {
  return s.files_new + s.files_changed + s.files_unmodified + s.dirs + s.other_entries;
}

// Accounts with something to restore, in smallest-first order.
std::vector<AccountPlan*> restore_order(RepoPlan& plan) {
  std::vector<AccountPlan*> out(plan.content.restorable, nullptr);
  for (AccountPlan& a : plan.accounts)
    if (!a.missing) out.at(a.order) = &a;
  return out;
}

void finish_selection(RepoPlan& plan) {
  // The node restore takes the smallest accounts first (most accounts back
  // the soonest); ties by name keep the order repeatable.
  std::vector<AccountPlan*> order;
  std::vector<double> ages;
  for (AccountPlan& a : plan.accounts) {
    if (a.missing) continue;
    order.push_back(&a);
    if (a.complete_id) ages.push_back(a.age_seconds);
  }
  std::sort(order.begin(), order.end(), [](const AccountPlan* x, const AccountPlan* y) {
    return x->bytes_total != y->bytes_total ? x->bytes_total < y->bytes_total
                                            : x->account < y->account;
  });
  ContentTotals& c = plan.content;
  c.restorable = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    order[i]->order = i;
    c.bytes_total += order[i]->bytes_total;
    c.files += order[i]->files;
    c.entries += order[i]->entries;
  }
  std::sort(ages.begin(), ages.end());
  RpoSummary& r = plan.rpo;
  r.accounts = ages.size();
  if (!ages.empty()) {
    r.min_age_seconds = ages.front();
    r.max_age_seconds = ages.back();
    const size_t n = ages.size();
    r.median_age_seconds = n % 2 ? ages[n / 2] : (ages[n / 2 - 1] + ages[n / 2]) / 2;
  }
}

// Opening and walking, before the probe.
RepoPlan prepare(repo::Repository& repo, const PlanOptions& options) {
  RepoPlan plan = select_snapshots(repo.list_snapshots(), options);
  plan.location = repo.location();
  measure_content(repo, plan, options);
  return plan;
}

void probe_and_estimate(repo::Repository& repo, RepoPlan& plan, const PlanOptions& options) {
  plan.probe = probe_reads(repo.backend(), plan.probe_ranges, options.probe,
                           options.progress ? &options.progress->probe_bytes : nullptr);
  if (plan.probe.errors > 0)
    plan.warnings.push_back("the read probe: " + std::to_string(plan.probe.errors) +
                            " reads failed (first: " + plan.probe.error + ")");
  estimate_rto(plan, options.model);
}

void add_missing(RepoPlan& plan, const std::set<std::string>& all) {
  std::set<std::string> have;
  for (const AccountPlan& a : plan.accounts) have.insert(a.account);
  for (const std::string& name : all) {
    if (have.count(name)) continue;
    AccountPlan a;
    a.account = name;
    a.missing = a.stale = true;
    plan.accounts.push_back(std::move(a));
    ++plan.missing;
    ++plan.stale;
  }
  std::sort(plan.accounts.begin(), plan.accounts.end(),
            [](const AccountPlan& x, const AccountPlan& y) { return x.account < y.account; });
}

// RTO estimates closer than this to the shortest count as equal.
constexpr double kRtoTieShare = 0.10;
constexpr double kRtoTieSeconds = 30;

double oldest_rpo(const RepoPlan& p) {
  return p.rpo.accounts == 0 ? INFINITY : p.rpo.max_age_seconds;
}

}  // namespace

RepoPlan select_snapshots(const std::vector<std::pair<Id, repo::Snapshot>>& snapshots,
                          const PlanOptions& options) {
  const UnixNanos now = options.at.value_or(options.now);
  const std::set<std::string> wanted(options.accounts.begin(), options.accounts.end());
  std::vector<std::pair<Id, repo::Snapshot>> considered;
  std::unordered_map<Id, const repo::Snapshot*, IdHash> by_id;
  for (const auto& [id, s] : snapshots) {
    if (s.node != options.node) continue;
    if (options.at && s.time > *options.at) continue;
    if (!wanted.empty() && !wanted.count(s.account)) continue;
    considered.emplace_back(id, s);
    by_id[id] = &s;
  }
  // node status's choice of each account's newest (and newest complete) snapshot.
  NodeStatus status =
      compute_node_status(considered, options.node, options.accounts, now, options.max_age_ns);

  RepoPlan plan;
  for (const AccountStatus& s : status.accounts) {
    AccountPlan a;
    a.account = s.account;
    if (!s.snapshot_id) {
      a.missing = a.stale = true;
      ++plan.missing;
      ++plan.stale;
      plan.accounts.push_back(std::move(a));
      continue;
    }
    const Id chosen = s.complete_id.value_or(*s.snapshot_id);
    const repo::Snapshot& snap = *by_id.at(chosen);
    a.snapshot_id = chosen;
    a.snapshot_time = snap.time;
    a.snapshot_partial = snap.partial;
    a.tree = snap.tree;
    if (s.complete_id) {
      a.complete_id = s.complete_id;
      a.complete_time = s.complete_time;
      a.age_seconds = seconds_between(s.complete_time, now);
      a.stale = now - s.complete_time > options.max_age_ns;
      if (*s.snapshot_id != *s.complete_id) {
        a.newer_partial_id = s.snapshot_id;
        a.newer_partial_time = s.time;
      }
    } else {
      a.stale = true;
      ++plan.partial_only;
    }
    plan.stale += a.stale;
    a.bytes_total = snap.summary.bytes_total;
    a.files = snap.summary.files_new + snap.summary.files_changed + snap.summary.files_unmodified;
    a.entries = entries_of(snap.summary);
    plan.accounts.push_back(std::move(a));
  }
  if (plan.accounts.empty())
    plan.warnings.push_back("no snapshots of node " + options.node +
                            (options.at ? " taken before the --at time" : "") +
                            "; check --node (and --at)");
  finish_selection(plan);
  return plan;
}

void estimate_rto(RepoPlan& plan, const RtoModel& model) {
  RtoEstimate& r = plan.rto;
  r = RtoEstimate{};
  r.open_seconds = plan.open_seconds;
  const ProbeResult& probe = plan.probe;
  if (probe.ran && !probe.ok()) {
    r.unknown_reason = "the read probe could not read from the repository: " + probe.error;
    return;
  }
  // Without a probe there was nothing to fetch: only trees (read at no
  // measured cost) and the writes remain.
  const double latency = probe.ran ? probe.latency_seconds : 0;
  const double rate = probe.ran ? probe.transfer_bytes_per_second : 0;
  const double fetchers = static_cast<double>(std::max<size_t>(1, model.fetchers));
  auto transfer = [&](uint64_t bytes) { return rate > 0 ? static_cast<double>(bytes) / rate : 0; };
  auto reads = [&](uint64_t n) { return static_cast<double>(n) * latency / fetchers; };

  std::vector<AccountPlan*> order = restore_order(plan);
  for (const AccountPlan* a : order) r.tree_seconds += reads(a->trees) + transfer(a->tree_bytes);
  const double before_content = r.open_seconds + r.tree_seconds;
  for (AccountPlan* a : order) {
    r.fetch_seconds += reads(a->ranges) + transfer(a->read_bytes);
    r.write_seconds += static_cast<double>(a->entries) * model.seconds_per_entry +
                       static_cast<double>(a->bytes_total) * model.seconds_per_byte;
    a->ready_seconds = before_content + std::max(r.fetch_seconds, r.write_seconds);
  }
  r.known = true;
  if (order.empty()) {
    r.total_seconds = r.ready50 = r.ready90 = r.ready100 = r.open_seconds;
    return;
  }
  // The time the ceil(share * n)-th account is ready.
  auto at_share = [&](double share) {
    size_t k = static_cast<size_t>(std::ceil(share * static_cast<double>(order.size())));
    return order[std::clamp<size_t>(k, 1, order.size()) - 1]->ready_seconds;
  };
  r.ready50 = at_share(0.5);
  r.ready90 = at_share(0.9);
  r.ready100 = r.total_seconds = order.back()->ready_seconds;
}

RepoPlan plan_repository(repo::Repository& repo, const PlanOptions& options) {
  RepoPlan plan = prepare(repo, options);
  probe_and_estimate(repo, plan, options);
  return plan;
}

NodePlan plan_node(const std::vector<RepoSource>& sources, const PlanOptions& options) {
  NodePlan out;
  out.node = options.node;
  out.repos.resize(sources.size());
  std::vector<std::unique_ptr<repo::Repository>> repos(sources.size());

  // Open, list and walk every repository at once.
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sources.size(); ++i) {
    threads.emplace_back([&, i] {
      RepoPlan& plan = out.repos[i];
      try {
        auto t0 = std::chrono::steady_clock::now();
        repos[i] = sources[i].open();
        const double open_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        plan = prepare(*repos[i], options);
        plan.open_seconds = open_seconds;
      } catch (const Error& e) {
        plan = RepoPlan{};
        plan.error = e.message();
        plan.error_code = e.code();
      } catch (const std::exception& e) {
        plan = RepoPlan{};
        plan.error = std::string("internal error: ") + e.what();
        plan.error_code = ErrorCode::kInternal;
      }
      plan.location = sources[i].location;
    });
  }
  for (auto& t : threads) t.join();

  // An account one repository has and another lacks is missing in the latter.
  std::set<std::string> all(options.accounts.begin(), options.accounts.end());
  for (const RepoPlan& p : out.repos)
    for (const AccountPlan& a : p.accounts) all.insert(a.account);
  for (RepoPlan& p : out.repos)
    if (p.ok()) add_missing(p, all);

  // Probe one repository at a time.
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!out.repos[i].ok()) continue;
    if (options.progress) options.progress->probing.store(static_cast<int>(i));
    probe_and_estimate(*repos[i], out.repos[i], options);
    repos[i].reset();
  }
  if (options.progress) options.progress->probing.store(-1);
  out.recommendation = recommend(out.repos);
  return out;
}

Recommendation recommend(const std::vector<RepoPlan>& repos) {
  std::vector<size_t> c;
  for (size_t i = 0; i < repos.size(); ++i)
    if (repos[i].ok()) c.push_back(i);
  Recommendation r;
  if (c.empty()) return r;
  if (c.size() == 1) {
    r.repo = c[0];
    r.decided_by = Decided::kOnly;
    return r;
  }
  auto keep = [&](auto pred) {
    std::vector<size_t> kept;
    for (size_t i : c)
      if (pred(repos[i])) kept.push_back(i);
    const bool decided = kept.size() == 1 && c.size() > 1;
    c = std::move(kept);
    return decided;
  };

  // 1. Fewest stale accounts: nothing makes up for data that is not there.
  size_t fewest = SIZE_MAX;
  for (size_t i : c) fewest = std::min(fewest, repos[i].stale);
  if (keep([&](const RepoPlan& p) { return p.stale == fewest; })) {
    r.repo = c[0];
    r.decided_by = Decided::kStale;
    return r;
  }
  // 2. The shortest RTO; estimates are rough, so within 10% (or half a
  // minute, which no outage is decided by) is a tie.
  double best = INFINITY;
  for (size_t i : c)
    if (repos[i].rto.known) best = std::min(best, repos[i].rto.total_seconds);
  const double tie = best + std::max(best * kRtoTieShare, kRtoTieSeconds);
  if (best < INFINITY &&
      keep([&](const RepoPlan& p) { return p.rto.known && p.rto.total_seconds <= tie; })) {
    r.repo = c[0];
    r.decided_by = Decided::kRto;
    return r;
  }
  // 3. The freshest: the smallest age of the oldest newest-complete snapshot.
  double freshest = INFINITY;
  for (size_t i : c) freshest = std::min(freshest, oldest_rpo(repos[i]));
  keep([&](const RepoPlan& p) { return oldest_rpo(p) == freshest; });
  r.repo = c[0];
  r.decided_by = c.size() == 1 ? Decided::kRpo : Decided::kOrder;
  return r;
}

const char* decided_name(Decided d) {
  switch (d) {
    case Decided::kOnly: return "only";
    case Decided::kStale: return "stale";
    case Decided::kRto: return "rto";
    case Decided::kRpo: return "rpo";
    case Decided::kOrder: return "order";
  }
  return "?";
}

}  // namespace lifeboat::node
