// lifeboat plan --node N --repo A [--repo B ...]: for each repository, the
// RPO (age of every account's newest complete snapshot) and an RTO estimate
// of a whole-node restore, then the repository to restore from. The work is
// done in src/node/plan.*; this file parses flags and prints.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "node/node_status.h"
#include "node/plan.h"

namespace lifeboat::cli {

namespace {

struct PlanFlags {
  std::string node;
  std::vector<std::string> accounts;
  std::string max_age = "26h";
  std::string at;
  double probe_seconds = 2.5;
};

// Stale accounts named in the human output (all of them with --verbose).
constexpr size_t kStaleShown = 10;

Json time_or_null(bool has, UnixNanos t) { return has ? Json(format_rfc3339(t)) : Json(nullptr); }
Json id_or_null(const std::optional<Id>& id) { return id ? Json(id->hex()) : Json(nullptr); }

Json account_json(const node::AccountPlan& a) {
  return Json{{"account", json_bytes(a.account)},
              {"missing", a.missing},
              {"stale", a.stale},
              {"snapshot_id", id_or_null(a.snapshot_id)},
              {"snapshot_time", time_or_null(a.snapshot_id.has_value(), a.snapshot_time)},
              {"snapshot_partial", a.snapshot_partial},
              {"complete_snapshot_id", id_or_null(a.complete_id)},
              {"complete_time", time_or_null(a.complete_id.has_value(), a.complete_time)},
              {"age_seconds", a.complete_id ? Json(a.age_seconds) : Json(nullptr)},
              {"newer_partial_snapshot_id", id_or_null(a.newer_partial_id)},
              {"newer_partial_time",
               time_or_null(a.newer_partial_id.has_value(), a.newer_partial_time)},
              {"bytes_total", a.bytes_total},
              {"files", a.files},
              {"entries", a.entries},
              {"order", a.missing ? Json(nullptr) : Json(a.order)},
              {"blobs", a.blobs},
              {"unique_bytes", a.unique_bytes},
              {"stored_bytes", a.stored_bytes},
              {"ranges", a.ranges},
              {"read_bytes", a.read_bytes},
              {"trees", a.trees},
              {"tree_bytes", a.tree_bytes},
              {"ready_seconds", a.missing ? Json(nullptr) : Json(a.ready_seconds)}};
}

Json repo_json(const node::RepoPlan& p) {
  if (!p.ok())
    return Json{{"location", p.location},
                {"ok", false},
                {"error", p.error},
                {"exit_code", exit_code_for(p.error_code)}};
  Json accounts = Json::array();
  for (const auto& a : p.accounts) accounts.push_back(account_json(a));
  const node::ContentTotals& c = p.content;
  const node::ProbeResult& pr = p.probe;
  const node::RtoEstimate& r = p.rto;
  auto known = [&](double v) { return r.known ? Json(v) : Json(nullptr); };
  return Json{
      {"location", p.location},
      {"ok", true},
      {"error", nullptr},
      {"summary",
       {{"accounts", p.accounts.size()},
        {"restorable", c.restorable},
        {"stale", p.stale},
        {"missing", p.missing},
        {"partial_only", p.partial_only}}},
      {"rpo",
       {{"accounts", p.rpo.accounts},
        {"min_age_seconds", p.rpo.accounts ? Json(p.rpo.min_age_seconds) : Json(nullptr)},
        {"median_age_seconds", p.rpo.accounts ? Json(p.rpo.median_age_seconds) : Json(nullptr)},
        {"max_age_seconds", p.rpo.accounts ? Json(p.rpo.max_age_seconds) : Json(nullptr)}}},
      {"content",
       {{"bytes_total", c.bytes_total},
        {"files", c.files},
        {"entries", c.entries},
        {"blobs", c.blobs},
        {"unique_bytes", c.unique_bytes},
        {"stored_bytes", c.stored_bytes},
        {"trees", c.trees},
        {"tree_bytes", c.tree_bytes},
        {"packs", c.packs},
        {"ranges", c.ranges},
        {"read_bytes", c.read_bytes},
        {"missing_blobs", c.missing_blobs},
        {"unreadable_trees", c.unreadable_trees}}},
      {"probe",
       {{"ran", pr.ran},
        {"seconds", pr.seconds},
        {"bytes", pr.bytes},
        {"requests", pr.requests},
        {"latency_seconds", pr.latency_seconds},
        {"bytes_per_second", pr.bytes_per_second},
        {"requests_per_second", pr.requests_per_second},
        {"transfer_bytes_per_second", pr.transfer_bytes_per_second},
        {"errors", pr.errors},
        {"error", pr.error.empty() ? Json(nullptr) : Json(pr.error)}}},
      {"rto",
       {{"known", r.known},
        {"unknown_reason", r.known ? Json(nullptr) : Json(r.unknown_reason)},
        {"open_seconds", p.open_seconds},
        {"tree_seconds", known(r.tree_seconds)},
        {"fetch_seconds", known(r.fetch_seconds)},
        {"write_seconds", known(r.write_seconds)},
        {"total_seconds", known(r.total_seconds)},
        {"ready50_seconds", known(r.ready50)},
        {"ready90_seconds", known(r.ready90)},
        {"ready100_seconds", known(r.ready100)}}},
      {"accounts", accounts},
      {"warnings", p.warnings}};
}

std::string rate(double bytes_per_second) {
  return format_bytes(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

std::string stale_list(const node::RepoPlan& p, bool all) {
  std::string out;
  size_t shown = 0;
  for (const auto& a : p.accounts) {
    if (!a.stale) continue;
    if (!all && shown == kStaleShown) return out + ", ...";
    out += shown++ ? ", " : "";
    out += printable(a.account) + " (" +
           (a.missing        ? std::string("no snapshot")
            : !a.complete_id ? std::string("only partial snapshots")
                             : format_seconds(a.age_seconds)) +
           ")";
  }
  return out;
}

std::string repo_text(const node::RepoPlan& p, const PlanFlags& f, bool verbose) {
  std::string t = fmt::format("repository {}\n", p.location);
  if (!p.ok()) return t + fmt::format("  cannot be planned: {}\n", one_line(p.error));
  const node::ContentTotals& c = p.content;
  if (p.stale == 0)
    t += fmt::format("  accounts     {}, none stale (each has a complete snapshot within {})\n",
                     p.accounts.size(), f.max_age);
  else
    t += fmt::format("  accounts     {}, {} stale (no complete snapshot within {}; {} without any "
                     "snapshot, {} with only partial ones)\n",
                     p.accounts.size(), p.stale, f.max_age, p.missing, p.partial_only);
  if (p.rpo.accounts > 0)
    t += fmt::format("  RPO          newest complete snapshot age: min {}, median {}, max {}\n",
                     format_seconds(p.rpo.min_age_seconds),
                     format_seconds(p.rpo.median_age_seconds),
                     format_seconds(p.rpo.max_age_seconds));
  else
    t += "  RPO          no account has a complete snapshot\n";
  if (p.stale > 0) t += "  stale        " + stale_list(p, verbose) + "\n";
  t += fmt::format("  content      {} in {} files; {} distinct after dedup, {} stored\n",
                   format_bytes(c.bytes_total), c.files, format_bytes(c.unique_bytes),
                   format_bytes(c.stored_bytes));
  t += fmt::format("  to fetch     {} in {} reads from {} packs, and {} trees ({})\n",
                   format_bytes(c.read_bytes), c.ranges, c.packs, c.trees,
                   format_bytes(c.tree_bytes));
  const node::ProbeResult& pr = p.probe;
  if (!pr.ran)
    t += "  probe        nothing to read\n";
  else if (!pr.ok())
    t += fmt::format("  probe        failed: {}\n", one_line(pr.error));
  else
    t += fmt::format("  probe        {} in {} reads over {}: {}, {:.1f} reads/s, latency {:.1f} ms\n",
                     format_bytes(pr.bytes), pr.requests, format_seconds(pr.seconds),
                     rate(pr.bytes_per_second), pr.requests_per_second,
                     pr.latency_seconds * 1000);
  const node::RtoEstimate& r = p.rto;
  if (r.known) {
    t += fmt::format("  RTO estimate {} (open {}, trees {}, fetch {}, write {}; fetch and write "
                     "overlap)\n",
                     format_seconds(r.total_seconds), format_seconds(r.open_seconds),
                     format_seconds(r.tree_seconds), format_seconds(r.fetch_seconds),
                     format_seconds(r.write_seconds));
    t += fmt::format("  accounts up  50% after {}, 90% after {}, 100% after {} (smallest first)\n",
                     format_seconds(r.ready50), format_seconds(r.ready90),
                     format_seconds(r.ready100));
  } else {
    t += fmt::format("  RTO estimate unknown: {}\n", one_line(r.unknown_reason));
  }
  if (verbose) {
    t += fmt::format("  {:<20} {:<8} {:>9} {:>11} {:>11} {:>9}\n", "account", "snapshot", "age",
                     "size", "to fetch", "ready at");
    // In restore order (smallest first), accounts without a snapshot last.
    std::vector<const node::AccountPlan*> rows;
    for (const auto& a : p.accounts) rows.push_back(&a);
    std::stable_sort(rows.begin(), rows.end(), [](const auto* x, const auto* y) {
      return x->missing != y->missing ? y->missing : (!x->missing && x->order < y->order);
    });
    for (const node::AccountPlan* row : rows) {
      const node::AccountPlan& a = *row;
      if (a.missing) {
        t += fmt::format("  {:<20} {:<8} {:>9} {:>11} {:>11} {:>9}\n", printable(a.account), "-",
                         "-", "-", "-", "-");
        continue;
      }
      t += fmt::format("  {:<20} {:<8} {:>9} {:>11} {:>11} {:>9}{}\n", printable(a.account),
                       a.snapshot_id->short_hex(),
                       a.complete_id ? format_seconds(a.age_seconds) : "partial",
                       format_bytes(a.bytes_total), format_bytes(a.read_bytes + a.tree_bytes),
                       r.known ? format_seconds(a.ready_seconds) : "?",
                       a.stale ? " STALE" : "");
    }
  }
  return t;
}

std::string recommendation_text(const node::NodePlan& n) {
  const node::Recommendation& rec = n.recommendation;
  if (!rec.repo) return "no recommendation: no repository could be planned\n";
  const node::RepoPlan& p = n.repos[*rec.repo];
  std::string rto = p.rto.known ? "RTO ~" + format_seconds(p.rto.total_seconds) : "RTO unknown";
  std::string rpo = p.rpo.accounts ? "oldest RPO " + format_seconds(p.rpo.max_age_seconds)
                                   : "no complete snapshots";
  std::string why;
  switch (rec.decided_by) {
    case node::Decided::kOnly: why = "the only repository that could be planned"; break;
    case node::Decided::kStale: why = "fewest stale accounts"; break;
    case node::Decided::kRto: why = "as few stale accounts as any, shortest RTO"; break;
    case node::Decided::kRpo:
      why = "as few stale accounts and an RTO within 10% of the shortest, freshest snapshots";
      break;
    case node::Decided::kOrder: why = "as good as another on every count, given first"; break;
  }
  return fmt::format("recommended: {} ({}: {} stale, {}, {})\n", p.location, why, p.stale, rto,
                     rpo);
}

// 0: every repository planned completely; 3: some could not be planned or
// their numbers are incomplete; none planned: the first one's error.
int exit_code(const node::NodePlan& n) {
  const node::RepoPlan* first_failed = nullptr;
  bool any_ok = false, incomplete = false;
  for (const auto& p : n.repos) {
    if (!p.ok()) {
      if (!first_failed) first_failed = &p;
      continue;
    }
    any_ok = true;
    incomplete |= !p.warnings.empty() || !p.rto.known;
  }
  if (!any_ok && first_failed) return exit_code_for(first_failed->error_code);
  return first_failed || incomplete ? kExitPartial : kExitOk;
}

std::string render_plan_status(const node::PlanProgress& p,
                               const std::vector<std::string>& locations) {
  int probing = p.probing.load();
  if (probing >= 0 && static_cast<size_t>(probing) < locations.size())
    return fmt::format("probing {}: {} read", locations[probing],
                       format_bytes(p.probe_bytes.load()));
  return fmt::format("walking trees: {} trees, {} blobs", p.trees.load(), p.blobs.load());
}

int run_plan(const PlanFlags& f, const GlobalOptions& g) {
  if (f.node.empty()) throw Error(ErrorCode::kInvalidArgument, "--node must not be empty");
  node::PlanOptions o;
  o.node = f.node;
  o.accounts = f.accounts;
  o.max_age_ns = node::parse_max_age(f.max_age);
  o.now = now_unix_nanos();
  if (!f.at.empty()) o.at = parse_time_flag(f.at);
  o.probe.seconds = f.probe_seconds;
  std::vector<std::string> locations = repository_locations(g);

  // One password for all, read before any repository is opened: one prompt
  // or one run of LIFEBOAT_PASSWORD_COMMAND, and no wait for it inside the
  // measured opening time.
  const std::string password = get_password(g, false);
  std::vector<node::RepoSource> sources;
  for (const auto& location : locations)
    sources.push_back({location, [&g, &password, location] {
                         return open_repository_at(g, location, true, [&] { return password; });
                       }});
  node::PlanProgress progress;
  o.progress = &progress;
  StatusLine status(progress_wanted(g),
                    [&] { return render_plan_status(progress, locations); });
  node::NodePlan n = node::plan_node(sources, o);
  status.stop();

  for (const auto& p : n.repos) {
    if (!p.ok()) print_error("repository " + p.location + " cannot be planned: " + p.error);
    for (const auto& w : p.warnings) print_warning("repository " + p.location + ": " + w);
  }
  const int code = exit_code(n);
  if (code != kExitOk && code != kExitPartial) return code;  // nothing was planned

  if (g.json) {
    Json repos = Json::array();
    for (const auto& p : n.repos) repos.push_back(repo_json(p));
    const node::RtoModel& m = o.model;
    Json rec = nullptr;
    if (n.recommendation.repo)
      rec = Json{{"index", *n.recommendation.repo},
                 {"location", n.repos[*n.recommendation.repo].location},
                 {"decided_by", node::decided_name(n.recommendation.decided_by)}};
    print_json(Json{{"node", json_bytes(n.node)},
                    {"max_age_seconds", o.max_age_ns / 1000000000},
                    {"at", o.at ? Json(format_rfc3339(*o.at)) : Json(nullptr)},
                    {"model",
                     {{"fetchers", m.fetchers},
                      {"max_range", m.ranges.max_range},
                      {"max_gap", m.ranges.max_gap},
                      {"seconds_per_entry", m.seconds_per_entry},
                      {"seconds_per_byte", m.seconds_per_byte}}},
                    {"repositories", repos},
                    {"recommended", rec}});
  } else if (!g.quiet) {
    std::string text = fmt::format("node {}{}: {}\n", printable(n.node),
                                   o.at ? " as of " + format_local_time(*o.at) : "",
                                   count_of(n.repos.size(), "repository", "repositories"));
    for (const auto& p : n.repos) text += repo_text(p, f, g.verbose);
    text += recommendation_text(n);
    print_out(text);
  }
  return code;
}

}  // namespace

CommandRun setup_plan(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand(
      "plan", "RPO and estimated whole-node restore time (RTO) of each --repo, to choose one");
  cmd->add_option("--node", f->node, "the hosting node's name")->required();
  cmd->add_option("--accounts", f->accounts, "plan only these accounts (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--max-age", f->max_age,
                  "accounts whose newest complete snapshot is older are stale (s/m/h/d; "
                  "default 26h)");
  cmd->add_option("--at", f->at,
                  "plan as of TIME: ignore later snapshots, count ages from TIME "
                  "(RFC 3339, or local 'YYYY-MM-DD HH:MM')");
  cmd->add_option("--probe-seconds", f->probe_seconds,
                  "how long to measure reads per repository (default 2.5; at most 256 MiB are read)")
      ->check(CLI::Range(0.1, 60.0));
  return [f, &g]() -> int { return run_plan(*f, g); };
}

}  // namespace lifeboat::cli
