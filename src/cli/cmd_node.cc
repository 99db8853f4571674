// lifeboat node: commands that think in hosting nodes and accounts.
//   node backup ROOT --node N   one snapshot per account under ROOT
//   node status --node N        newest snapshot, age, size and result per account
//   node restore --node N -t D  every account back, smallest first (cmd_node_restore.cc)
// The work is done in src/node/; this file parses flags and prints.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/database_flags.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "node/accounts.h"
#include "node/node_backup.h"
#include "node/node_status.h"
#include "repo/writer_registration.h"

namespace lifeboat::cli {

namespace {

struct BackupFlags {
  std::string root;
  std::string node;
  std::string accounts_file;
  std::vector<std::string> include;
  std::vector<std::string> exclude_account;
  std::vector<std::string> excludes;
  std::vector<std::string> tags;
  size_t parallel = 2;
  std::string time;  // --time
  DatabaseFlags databases;
};

struct StatusFlags {
  std::string node;
  std::string max_age = "26h";
  std::string root;
};

std::string short_or_error(const node::AccountResult& r) {
  if (r.result == node::AccountOutcome::kFailed && r.snapshot_id)  // a database dump failed
    return r.snapshot_id->short_hex() + " (partial) " + one_line(r.error);
  if (r.result == node::AccountOutcome::kFailed) return one_line(r.error);
  return r.snapshot_id ? r.snapshot_id->short_hex() : "";
}

Json account_json(const node::AccountResult& r) {
  return Json{{"account", json_bytes(r.account)},
              {"result", node::outcome_name(r.result)},
              {"snapshot_id", r.snapshot_id ? Json(r.snapshot_id->hex()) : Json(nullptr)},
              {"parent", r.parent_id ? Json(r.parent_id->hex()) : Json(nullptr)},
              {"files", r.files},
              {"bytes_total", r.bytes_total},
              {"bytes_read", r.bytes_read},
              {"bytes_added", r.bytes_added},
              {"errors", r.errors},
              {"duration_seconds", r.duration_seconds},
              {"error", r.error.empty() ? Json(nullptr) : Json(r.error)},
              {"databases", databases_json(r.databases)}};
}

Json node_backup_json(const node::NodeBackupResult& n) {
  Json accounts = Json::array();
  for (const auto& r : n.accounts) accounts.push_back(account_json(r));
  return Json{{"node", json_bytes(n.node)},
              {"accounts", accounts},
              {"summary",
               {{"accounts", n.accounts.size()},
                {"ok", n.ok},
                {"partial", n.partial},
                {"failed", n.failed},
                {"files", n.files},
                {"bytes_total", n.bytes_total},
                {"bytes_read", n.bytes_read},
                {"bytes_added", n.bytes_added},
                {"bytes_stored", n.bytes_stored},
                {"duration_seconds", n.duration_seconds}}}};
}

std::string account_line(const node::AccountResult& r) {
  return fmt::format("{:<20} {:<7} {:>8} files {:>11} {:>11} added {:>8}  {}\n",
                     printable(r.account), node::outcome_name(r.result), r.files,
                     format_bytes(r.bytes_total), format_bytes(r.bytes_added),
                     format_seconds(r.duration_seconds), short_or_error(r));
}

int run_node_backup(const BackupFlags& f, const GlobalOptions& g) {
  if (f.node.empty()) throw Error(ErrorCode::kInvalidArgument, "--node must not be empty");
  node::AccountFilter filter{f.include, f.exclude_account};
  node::NodeBackupOptions o;
  o.databases = f.databases.commands();
  if (o.databases) node::DatabaseDumper check(*o.databases);  // usage errors before the password
  o.root = f.root;
  o.node = f.node;
  o.accounts = f.accounts_file.empty() ? node::discover_accounts(f.root, filter)
                                       : node::read_accounts_file(f.accounts_file, filter);
  if (o.accounts.empty())
    throw Error(ErrorCode::kNotFound, "no accounts to back up under " + f.root +
                                          " (check the root, --accounts-file and --include/--exclude-account)");
  o.tags = f.tags;
  o.excludes = f.excludes;
  if (!f.time.empty()) o.snapshot_time = parse_time_flag(f.time, "--time");
  o.parallel_accounts = f.parallel;
  o.on_file_error = [](const std::string& account, const std::string& path,
                       const std::string& message) {
    print_warning("account " + printable(account) + ": " + printable(path) + ": " + message);
  };
  o.on_warning = o.on_file_error;
  bool human = !g.json && !g.quiet;
  o.on_account_done = [human](const node::AccountResult& r) {
    if (r.result == node::AccountOutcome::kFailed)
      print_warning("account " + printable(r.account) + " failed: " + r.error);
    if (human) print_out(account_line(r));
  };
  auto repo = open_repository(g, false, nullptr, /*for_backup=*/true);
  // A concurrent prune must not delete what this backup relies on: the
  // index is read once the writer is registered (writer_registration.h).
  repo::WriterRegistration writer(*repo, "node backup " + o.node);
  repo->load_index();
  node::NodeBackupProgress progress;
  o.progress = &progress;
  const auto started = std::chrono::steady_clock::now();
  StatusLine status(progress_wanted(g), [&progress, started] {
    return render_node_backup_status(progress, started);
  });
  node::NodeBackupResult n = node::run_node_backup(*repo, o);
  status.stop();
  if (g.json) {
    print_json(node_backup_json(n));
  } else if (!g.quiet) {
    print_out(fmt::format(
        "node {}: {} accounts, {} ok, {} partial, {} failed; {} files, {} in the snapshots, "
        "{} read, {} added, {} stored; {}\n",
        printable(n.node), n.accounts.size(), n.ok, n.partial, n.failed, n.files,
        format_bytes(n.bytes_total), format_bytes(n.bytes_read), format_bytes(n.bytes_added),
        format_bytes(n.bytes_stored), format_seconds(n.duration_seconds)));
  }
  if (!n.all_ok()) {
    print_error(fmt::format("node backup of {} is partial: {} of {} accounts failed, {} partial",
                            printable(n.node), n.failed, n.accounts.size(), n.partial));
    return kExitPartial;
  }
  return kExitOk;
}

int run_node_status(const StatusFlags& f, const GlobalOptions& g) {
  if (f.node.empty()) throw Error(ErrorCode::kInvalidArgument, "--node must not be empty");
  int64_t max_age = node::parse_max_age(f.max_age);
  std::vector<std::string> known;
  if (!f.root.empty()) known = node::discover_accounts(f.root, {});
  auto repo = open_repository(g, false);
  UnixNanos now = now_unix_nanos();
  node::NodeStatus s = node::node_status(*repo, f.node, known, now, max_age);
  if (g.json) {
    Json accounts = Json::array();
    for (const auto& a : s.accounts)
      accounts.push_back(Json{
          {"account", json_bytes(a.account)},
          {"snapshot_id", a.snapshot_id ? Json(a.snapshot_id->hex()) : Json(nullptr)},
          {"time", a.snapshot_id ? Json(format_rfc3339(a.time)) : Json(nullptr)},
          {"age_seconds", a.snapshot_id ? Json(a.age_seconds) : Json(nullptr)},
          {"bytes_total", a.bytes_total},
          {"result", a.snapshot_id ? Json(a.partial ? "partial" : "ok") : Json(nullptr)},
          {"snapshots", a.snapshots},
          {"stale", a.stale}});
    print_json(Json{{"node", json_bytes(s.node)},
                    {"max_age_seconds", s.max_age_ns / 1000000000},
                    {"accounts", accounts},
                    {"summary",
                     {{"accounts", s.accounts.size()},
                      {"stale", s.stale},
                      {"missing", s.missing}}}});
  } else if (!g.quiet) {
    std::string text = fmt::format("{:<20} {:<8} {:<19} {:>8} {:>11} {:<7}\n", "account",
                                   "snapshot", "time", "age", "size", "result");
    for (const auto& a : s.accounts) {
      if (a.snapshot_id)
        text += fmt::format("{:<20} {:<8} {:<19} {:>8} {:>11} {:<7}{}\n", printable(a.account),
                            a.snapshot_id->short_hex(), format_local_time(a.time),
                            format_seconds(a.age_seconds), format_bytes(a.bytes_total),
                            a.partial ? "partial" : "ok", a.stale ? " STALE" : "");
      else
        text += fmt::format("{:<20} {:<8} {:<19} {:>8} {:>11} {:<7} STALE (no snapshot)\n",
                            printable(a.account), "-", "-", "-", "-", "-");
    }
    text += fmt::format("node {}: {} accounts, {} stale ({} without a snapshot), max age {}\n",
                        printable(s.node), s.accounts.size(), s.stale, s.missing, f.max_age);
    print_out(text);
  }
  return s.stale == 0 ? kExitOk : kExitPartial;
}

}  // namespace

CommandRun setup_node(CLI::App& app, const GlobalOptions& g) {
  auto bf = std::make_shared<BackupFlags>();
  auto sf = std::make_shared<StatusFlags>();
  auto* cmd = app.add_subcommand("node", "back up and inspect a whole hosting node, account by account");
  cmd->require_subcommand(1);
  cmd->fallthrough();

  auto* b = cmd->add_subcommand("backup", "one snapshot per account under ROOT");
  b->fallthrough();
  b->add_option("root", bf->root, "the directory holding one directory per account (e.g. /home)")
      ->required();
  b->add_option("--node", bf->node, "the hosting node's name")->required();
  b->add_option("--accounts-file", bf->accounts_file,
                "back up the accounts named in FILE (one per line, # comments) instead of "
                "every directory under ROOT");
  b->add_option("--include", bf->include, "only accounts whose name matches GLOB (repeatable)")
      ->allow_extra_args(false);
  b->add_option("--exclude-account", bf->exclude_account,
                "skip accounts whose name matches GLOB (repeatable)")
      ->allow_extra_args(false);
  b->add_option("--exclude", bf->excludes,
                "inside each account, skip paths matching GLOB (repeatable)")
      ->allow_extra_args(false);
  b->add_option("--tag", bf->tags, "a tag for every snapshot (repeatable)")
      ->allow_extra_args(false);
  b->add_option("--parallel", bf->parallel,
                "accounts backed up at once through the shared pipeline (default 2)")
      ->check(CLI::Range(1, 64));
  b->add_option("--time", bf->time,
                "record this time as every snapshot's (RFC 3339 or local 'YYYY-MM-DD HH:MM:SS'; "
                "default: when each account's backup starts)");
  add_database_flags(b, bf->databases);

  auto* s = cmd->add_subcommand("status", "newest snapshot, age, size and result of every account");
  s->fallthrough();
  s->add_option("--node", sf->node, "the hosting node's name")->required();
  s->add_option("--max-age", sf->max_age,
                "flag accounts whose newest snapshot is older than this (s/m/h/d; default 26h)");
  s->add_option("--root", sf->root,
                "also list the account directories under DIR, flagging those without a snapshot");

  NodeSubcommand restore = setup_node_restore(*cmd, g);

  return [bf, sf, b, s, restore, &g]() -> int {
    if (b->parsed()) return run_node_backup(*bf, g);
    if (s->parsed()) return run_node_status(*sf, g);
    if (restore.app->parsed()) return restore.run();
    throw Error(ErrorCode::kInvalidArgument, "node: no subcommand given; see 'lifeboat node --help'");
  };
}

}  // namespace lifeboat::cli
