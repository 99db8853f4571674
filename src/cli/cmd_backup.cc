// lifeboat backup: one snapshot of one directory tree of one account.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "backup/archiver.h"
#include "cli/commands.h"
#include "cli/database_flags.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "node/node_backup.h"
#include "repo/writer_registration.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  std::string path;
  std::string account;
  std::string node;
  std::vector<std::string> tags;
  std::vector<std::string> excludes;
  bool force = false;
  std::string time;  // --time
  DatabaseFlags databases;
};

// The absolute, symlink-free path of the directory to back up, so that the
// parent lookup finds the same path whatever the working directory was.
std::string source_directory(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) throw_errno("backup path " + path);
  struct stat st;
  if (::stat(buf, &st) != 0) throw_errno("backup path " + path);
  if (!S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kInvalidArgument,
                "backup path " + path + " is not a directory; back up the directory that holds it");
  return buf;
}

Json summary_json(const backup::BackupResult& r, const std::vector<node::DatabaseDump>& dumps) {
  const repo::Snapshot& s = r.snapshot;
  const repo::SnapshotSummary& m = s.summary;
  Json paths = Json::array();
  for (const auto& p : s.paths) paths.push_back(json_bytes(p));
  Json errors = Json::array();
  for (const auto& p : s.error_paths) errors.push_back(json_bytes(p));
  Json tags = Json::array();
  for (const auto& t : s.tags) tags.push_back(json_bytes(t));
  Json out{{"snapshot_id", r.snapshot_id.hex()},
           {"short_id", r.snapshot_id.short_hex()},
           {"parent", s.parent ? Json(s.parent->hex()) : Json(nullptr)},
           {"partial", r.partial},
           {"account", json_bytes(s.account)},
           {"node", json_bytes(s.node)},
           {"paths", paths},
           {"tags", tags},
           {"duration_seconds", seconds_between(m.started, m.finished)}};
  out.update(repo::summary_to_json(m));
  out["error_paths"] = errors;
  out["databases"] = databases_json(dumps);
  return out;
}

void print_summary(const backup::BackupResult& r, const std::vector<node::DatabaseDump>& dumps) {
  const repo::Snapshot& s = r.snapshot;
  const repo::SnapshotSummary& m = s.summary;
  std::string text = fmt::format("snapshot {} saved (account {}, node {}{})\n",
                                 r.snapshot_id.short_hex(), s.account, s.node,
                                 s.parent ? ", parent " + s.parent->short_hex() : "");
  text += fmt::format("files:    {} new, {} changed, {} unmodified; {} dirs, {} other\n",
                      m.files_new, m.files_changed, m.files_unmodified, m.dirs, m.other_entries);
  text += fmt::format("bytes:    {} in the snapshot, {} read, {} added, {} stored\n",
                      format_bytes(m.bytes_total), format_bytes(m.bytes_read),
                      format_bytes(m.bytes_added), format_bytes(m.bytes_stored));
  text += fmt::format("duration: {}\n", format_seconds(seconds_between(m.started, m.finished)));
  for (const auto& d : dumps)
    text += fmt::format("database: {} {}\n", printable(d.name),
                        d.error.empty() ? format_bytes(d.bytes) : "FAILED: " + one_line(d.error));
  if (m.errors > 0)
    text += fmt::format("errors:   {} could not be read completely (see the warnings "
                        "above); the snapshot is partial\n",
                        count_of(m.errors, "entry", "entries"));
  print_out(text);
}

}  // namespace

CommandRun setup_backup(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("backup", "save a snapshot of a directory");
  cmd->add_option("path", f->path, "the directory to back up")->required();
  cmd->add_option("--account", f->account, "the account the directory belongs to")->required();
  cmd->add_option("--node", f->node, "the hosting node (default: this host's name)");
  // One value per occurrence: `--tag a PATH` must not take PATH as a tag.
  cmd->add_option("--tag", f->tags, "a tag for the snapshot (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--exclude", f->excludes,
                  "skip paths matching GLOB, relative to PATH or a base name (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--force", f->force, "read every file, even those the parent proves unchanged");
  cmd->add_option("--time", f->time,
                  "record this time as the snapshot's (RFC 3339 or local 'YYYY-MM-DD HH:MM:SS'; "
                  "default: when the backup starts)");
  add_database_flags(cmd, f->databases);

  return [f, &g]() -> int {
    if (f->account.empty()) throw Error(ErrorCode::kInvalidArgument, "--account must not be empty");
    if (f->node.empty()) f->node = local_hostname();
    std::optional<UnixNanos> snapshot_time;
    if (!f->time.empty()) snapshot_time = parse_time_flag(f->time, "--time");
    std::optional<node::DatabaseDumper> dumper;
    if (auto commands = f->databases.commands()) dumper.emplace(*commands);
    std::string root = source_directory(f->path);
    auto repo = open_repository(g, false, nullptr, /*for_backup=*/true);
    // A concurrent prune must not delete what this backup relies on: the
    // index is read once the writer is registered (writer_registration.h).
    repo::WriterRegistration writer(*repo, "backup " + f->node + "/" + f->account);
    repo->load_index();

    backup::BackupOptions options;
    options.account = f->account;
    options.node = f->node;
    options.tags = f->tags;
    options.excludes = f->excludes;
    options.force_reread = f->force;
    options.snapshot_time = snapshot_time;
    if (auto parent = node::find_parent(repo->list_snapshots(), f->account, f->node, root)) {
      options.parent_id = parent->first;
      options.parent = std::move(parent->second);
      print_verbose(g, "using parent snapshot " + parent->first.short_hex() +
                           (f->force ? " (--force: every file is read anyway)" : ""));
    }
    options.on_error = [](const std::string& path, const std::string& message) {
      print_warning(printable(path) + ": " + message);
    };
    options.on_warning = options.on_error;
    node::DatabasePlan databases;
    if (dumper) {
      databases = dumper->plan(f->account);
      options.streamed = databases.dir;
    }
    backup::BackupProgress progress;
    options.progress = &progress;
    options.count_totals = progress_wanted(g);

    auto started = std::chrono::steady_clock::now();
    StatusLine status(progress_wanted(g),
                      [&progress, started] { return render_backup_status(progress, started); });
    backup::BackupResult result = backup::run_backup(*repo, root, options);
    status.stop();
    std::vector<node::DatabaseDump> dumps;
    if (dumper) dumps = node::DatabaseDumper::results(databases, result.streamed);

    if (g.json)
      print_json(summary_json(result, dumps));
    else if (!g.quiet)
      print_summary(result, dumps);
    if (result.partial) {
      print_error(fmt::format("snapshot {} is partial: {} could not be read completely",
                              result.snapshot_id.short_hex(),
                              count_of(result.snapshot.summary.errors, "entry", "entries")));
      return kExitPartial;
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
