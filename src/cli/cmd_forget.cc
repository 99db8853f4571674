// lifeboat forget: remove snapshots by a retention policy (or by id).
// The decisions come from repo/forget_plan.h; this file parses flags, removes
// the snapshot objects the plan names, and prints the plan. Only snapshot
// objects are deleted: the data they referenced is prune's business.
#include <algorithm>
#include <atomic>
#include <climits>
#include <exception>
#include <memory>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "repo/forget_plan.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  repo::RetentionPolicy policy;
  std::string within;
  std::string node;
  std::vector<std::string> accounts;
  std::vector<std::string> tags;
  std::string group_by = "node,account";
  bool dry_run = false;
  std::vector<std::string> ids;
};

std::string group_title(const repo::ForgetGroup& g) {
  std::vector<std::string> parts;
  if (g.node) parts.push_back("node " + printable(*g.node));
  if (g.account) parts.push_back("account " + printable(*g.account));
  if (parts.empty()) return "all snapshots";
  return fmt::format("{}", fmt::join(parts, ", "));
}

Json entry_json(const repo::ForgetEntry& e, bool with_reasons) {
  Json tags = Json::array();
  for (const auto& t : e.tags) tags.push_back(json_bytes(t));
  Json j{{"id", e.id.hex()}, {"short_id", e.id.short_hex()}, {"time", format_rfc3339(e.time)}, {"tags", tags}};
  if (with_reasons) j["reasons"] = e.reasons;
  return j;
}

struct Totals {
  size_t keep = 0, remove = 0, removed = 0;
};

Json plan_json(const std::vector<repo::ForgetGroup>& groups, const Flags& f, const Totals& t) {
  Json out_groups = Json::array();
  for (const auto& g : groups) {
    Json keep = Json::array(), remove = Json::array();
    for (const auto& e : g.keep) keep.push_back(entry_json(e, true));
    for (const auto& e : g.remove) remove.push_back(entry_json(e, false));
    out_groups.push_back(Json{{"node", g.node ? json_bytes(*g.node) : Json(nullptr)},
                              {"account", g.account ? json_bytes(*g.account) : Json(nullptr)},
                              {"keep", keep},
                              {"remove", remove}});
  }
  return Json{{"dry_run", f.dry_run},
              {"groups", out_groups},
              {"totals",
               {{"groups", groups.size()},
                {"snapshots", t.keep + t.remove},
                {"keep", t.keep},
                {"remove", t.remove},
                {"removed", t.removed}}}};
}

std::string entry_line(const repo::ForgetEntry& e, bool with_reasons) {
  std::string line = fmt::format("  {}  {}", e.id.short_hex(), format_local_time(e.time));
  if (with_reasons) line += fmt::format("  {}", fmt::join(e.reasons, ", "));
  return line + "\n";
}

std::string plan_text(const std::vector<repo::ForgetGroup>& groups, const Flags& f, const Totals& t) {
  std::string text;
  for (const auto& g : groups) {
    text += fmt::format("{}: keep {}, remove {}\n", group_title(g), g.keep.size(), g.remove.size());
    if (!g.keep.empty()) text += "keep (reasons):\n";
    for (const auto& e : g.keep) text += entry_line(e, true);
    if (!g.remove.empty()) text += f.dry_run ? "would remove:\n" : "removed:\n";
    for (const auto& e : g.remove) text += entry_line(e, false);
    text += "\n";
  }
  if (f.dry_run)
    text += fmt::format("would remove {} of {} in {}; nothing removed (--dry-run)\n",
                        t.remove, count_of(t.keep + t.remove, "snapshot", "snapshots"),
                        count_of(groups.size(), "group", "groups"));
  else
    text += fmt::format("removed {} of {} in {}; 'lifeboat prune' frees the data no snapshot needs\n",
                        t.removed, count_of(t.keep + t.remove, "snapshot", "snapshots"),
                        count_of(groups.size(), "group", "groups"));
  return text;
}

// Removes the snapshot objects of the plan. A backend that may not delete
// (an append-only server, a read-only directory, an S3 user without
// DeleteObject) refuses the first one, so nothing is removed.
size_t remove_planned(repo::Repository& repo, const std::vector<repo::ForgetGroup>& groups) {
  std::vector<Id> ids;
  for (const auto& g : groups)
    for (const auto& e : g.remove) ids.push_back(e.id);
  std::atomic<size_t> removed{0};
  auto remove = [&](const Id& id) {
    try {
      repo.remove_snapshot(id);
    } catch (const Error& err) {
      if (err.code() != ErrorCode::kPermission) throw;
      const size_t done = removed.load();
      throw Error(ErrorCode::kPermission,
                  fmt::format("forget: {} ({}); forget and prune need credentials that may delete - "
                              "an append-only tier's backup credentials cannot: run them with the "
                              "tier's prune credentials",
                              err.message(),
                              done == 0 ? "nothing removed" : fmt::format("{} removed before it", done)));
    }
    ++removed;
  };
  if (ids.empty()) return 0;
  // The first alone: credentials that may not delete stop forget before
  // anything is removed. The rest in parallel (each removal is a round trip,
  // or a directory sync on a local disk).
  remove(ids[0]);
  std::mutex mu;
  std::exception_ptr failure;
  {
    ThreadPool pool(8);
    for (size_t i = 1; i < ids.size(); ++i)
      pool.submit([&, i] {
        try {
          remove(ids[i]);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!failure) failure = std::current_exception();
        }
      });
    pool.wait();
  }
  if (failure) std::rethrow_exception(failure);
  return removed.load();
}

void check_flags(const Flags& f) {
  const bool filtered = !f.node.empty() || !f.accounts.empty() || !f.tags.empty();
  if (!f.ids.empty() && (!f.policy.empty() || filtered))
    throw Error(ErrorCode::kInvalidArgument,
                "forget takes snapshot ids or --keep-* rules (with --node/--account/--tag), not both");
  if (f.ids.empty() && f.policy.empty())
    throw Error(ErrorCode::kInvalidArgument,
                "forget needs at least one --keep-* rule or snapshot ids (without a rule it would "
                "forget everything); see 'lifeboat forget --help'");
}

}  // namespace

CommandRun setup_forget(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "forget", "remove snapshots by a retention policy or by id (their data stays until prune)");
  auto count = [&](const char* name, int& field, const char* what) {
    cmd->add_option(name, field, fmt::format("keep the newest snapshot of each of the N newest {} (-1: all)", what))
        ->check(CLI::Range(-1, INT_MAX));
  };
  cmd->add_option("--keep-last", f->policy.last, "keep the N newest snapshots (-1: all)")
      ->check(CLI::Range(-1, INT_MAX));
  count("--keep-hourly", f->policy.hourly, "hours");
  count("--keep-daily", f->policy.daily, "days");
  count("--keep-weekly", f->policy.weekly, "ISO weeks");
  count("--keep-monthly", f->policy.monthly, "months");
  count("--keep-yearly", f->policy.yearly, "years");
  cmd->add_option("--keep-within", f->within,
                  "keep snapshots at most DURATION older than the group's newest (e.g. 7d, 36h, 1y2m; "
                  "y=365d, m=30d, w=7d, d, h)");
  cmd->add_option("--keep-tag", f->policy.keep_tags, "keep snapshots carrying TAG (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--node", f->node, "only snapshots of this node");
  cmd->add_option("--account", f->accounts, "only snapshots of this account (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--tag", f->tags, "only snapshots carrying this tag (repeatable: any of them)")
      ->allow_extra_args(false);
  cmd->add_option("--group-by", f->group_by,
                  "decide per group of: node,account (default), node, account, none");
  cmd->add_flag("-n,--dry-run", f->dry_run, "show what would be removed and why the rest stays; remove nothing");
  cmd->add_option("ids", f->ids, "snapshots to forget, by id or unique prefix (instead of --keep-* rules)");

  return [f, &g]() -> int {
    if (!f->within.empty()) f->policy.within_ns = repo::parse_retention_duration(f->within);
    const repo::GroupBy group_by = repo::parse_group_by(f->group_by);
    check_flags(*f);
    auto repo = open_repository(g, false);

    std::vector<repo::ForgetGroup> groups;
    if (f->ids.empty()) {
      groups = repo::plan_forget(repo->list_snapshots(), {f->node, f->accounts, f->tags}, group_by,
                                 f->policy, now_unix_nanos());
    } else {
      std::vector<std::pair<Id, repo::Snapshot>> chosen;
      std::set<Id> seen;
      for (const auto& ref : f->ids) {
        if (ref == "latest")
          throw Error(ErrorCode::kInvalidArgument, "forget takes snapshot ids, not 'latest'");
        auto found = repo->find_snapshot(ref);
        if (seen.insert(found.first).second) chosen.push_back(std::move(found));
      }
      groups = repo::plan_forget_ids(chosen, group_by);
    }

    Totals t;
    for (const auto& gr : groups) {
      t.keep += gr.keep.size();
      t.remove += gr.remove.size();
    }
    if (!f->dry_run) t.removed = remove_planned(*repo, groups);

    if (g.json)
      print_json(plan_json(groups, *f, t));
    else if (!g.quiet)
      print_out(plan_text(groups, *f, t));
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
