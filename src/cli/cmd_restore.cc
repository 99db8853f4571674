// lifeboat restore: write a snapshot (or a part of it) into a directory.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/restore_repos.h"
#include "restore/restorer.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  std::string snapshot;  // SNAPSHOT[:subpath]
  std::string target;
  std::string account;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool no_owner = false;
  bool verify = false;
};

// Creates the target directory and its parents, so that a target that can
// never work fails before anything is read, with a message naming it:
// a path component that is not a directory is a fatal error (exit 1),
// refused access is a permission error (exit 14).
void prepare_target(const std::string& target) {
  auto fail = [&](const std::string& component, int err) {
    std::string why = err == ENOTDIR || err == EEXIST
                          ? component + " is not a directory"
                          : component + ": " + std::strerror(err);
    std::string message = "restore target " + target + " cannot be created: " + why;
    ErrorCode code = error_code_from_errno(err);
    if (err == ENOTDIR || err == EEXIST || err == ENOENT) code = ErrorCode::kIo;
    if (code == ErrorCode::kPermission) message += "; check its permissions or choose another --target";
    else if (code != ErrorCode::kNoSpace) message += "; choose another --target";
    throw Error(code, message);
  };
  // Each leading part of the path, "/a", "/a/b", ..., the target itself last.
  for (size_t end = 1; end <= target.size(); ++end) {
    if (end < target.size() && target[end] != '/') continue;
    if (target[end - 1] == '/') continue;
    std::string path = target.substr(0, end);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) fail(path, ENOTDIR);
      continue;
    }
    if (errno != ENOENT) fail(path, errno);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail(path, errno);
  }
  if (::access(target.c_str(), W_OK | X_OK) != 0) fail(target, errno);
}

Json result_json(const Id& id, const Flags& f, const std::string& subpath,
                 const restore::RestoreResult& r, double seconds) {
  return Json{{"snapshot_id", id.hex()},
              {"short_id", id.short_hex()},
              {"subpath", json_bytes(subpath)},
              {"target", json_bytes(f.target)},
              {"files", r.files},
              {"dirs", r.dirs},
              {"other", r.other},
              {"bytes", r.bytes},
              {"errors", r.errors},
              {"damaged", r.damaged},
              {"verified", f.verify ? Json(r.errors == 0 && r.mismatches == 0) : Json(nullptr)},
              {"mismatches", r.mismatches},
              {"duration_seconds", seconds}};
}

}  // namespace

CommandRun setup_restore(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("restore", "restore a snapshot into a directory");
  cmd->add_option("snapshot", f->snapshot,
                  "SNAPSHOT[:PATH]: id, prefix or 'latest', optionally a path inside it")
      ->required();
  cmd->add_option("-t,--target", f->target, "the directory to restore into (created if missing)")
      ->required();
  cmd->add_option("--include", f->includes, "restore only paths matching GLOB (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--exclude", f->excludes, "skip paths matching GLOB (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--account", f->account, "with 'latest': the newest snapshot of this account");
  cmd->add_flag("--no-owner", f->no_owner, "do not restore numeric owners (uid/gid)");
  cmd->add_flag("--verify", f->verify,
                "read everything back once restored and compare it with the snapshot "
                "(content, sizes, modes, owners, times, xattrs, links)");

  return [f, &g]() -> int {
    std::string ref = f->snapshot;
    std::string subpath;
    if (size_t colon = ref.find(':'); colon != std::string::npos) {
      subpath = ref.substr(colon + 1);
      ref = ref.substr(0, colon);
    }
    if (f->target.empty()) throw Error(ErrorCode::kInvalidArgument, "--target must not be empty");
    RestoreRepos repos = open_restore_repos(g);
    // The primary: the first repository that has the snapshot and can read
    // the path in it. Fails with "not found" before touching the target if
    // no repository has them.
    Id id;
    repo::Snapshot snapshot;
    repos.choose_primary([&](repo::Repository& repo) {
      std::tie(id, snapshot) = repo.find_snapshot(ref, f->account);
      find_snapshot_node(repo, id, snapshot, subpath);
      return true;
    });
    repo::Repository* repo = &repos.primary();
    prepare_target(f->target);

    restore::RestoreOptions options;
    options.subpath = join_path(split_path(subpath)).substr(1);
    options.includes = f->includes;
    options.excludes = f->excludes;
    options.restore_owner = !f->no_owner;
    options.verify = f->verify;
    options.on_error = [](const std::string& path, const std::string& message) {
      print_warning(printable(path) + ": " + message);
    };
    restore::RestoreProgress progress;
    options.progress = &progress;
    options.more_repos = repos.more();

    auto started = std::chrono::steady_clock::now();
    StatusLine status(progress_wanted(g),
                      [&progress, started] { return render_restore_status(progress, started); });
    restore::RestoreResult result = restore::run_restore(*repo, snapshot.tree, f->target, options);
    status.stop();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (g.json) {
      Json j = result_json(id, *f, options.subpath, result, seconds);
      if (repos.several) j["repositories"] = restore_repos_json(repos, result.sources);
      print_json(j);
    } else if (!g.quiet) {
      std::string text = fmt::format(
          "restored snapshot {}{} into {}\n"
          "files: {}, dirs: {}, other: {}, bytes: {}, errors: {}, duration: {}\n",
          id.short_hex(), options.subpath.empty() ? "" : ":" + printable(options.subpath),
          printable(f->target), result.files, result.dirs, result.other,
          format_bytes(result.bytes), result.errors, format_seconds(seconds));
      if (result.damaged > 0)
        text += fmt::format("{} already damaged when backed up (restored as read)\n",
                            count_of(result.damaged, "entry was", "entries were"));
      if (f->verify && result.mismatches == 0 && result.errors == 0)
        text += "verified: everything restored matches the snapshot\n";
      if (repos.several) text += restore_repos_text(repos, result.sources);
      print_out(text);
    }
    if (result.errors > 0) {
      print_error(fmt::format("{} could not be restored into {} (see the warnings above)",
                              count_of(result.errors, "entry", "entries"), f->target));
      return kExitPartial;
    }
    if (result.mismatches > 0) {
      print_error(fmt::format("{} in {} differ from the snapshot after restore (see the "
                              "warnings above); restore again",
                              count_of(result.mismatches, "entry", "entries"), f->target));
      return kExitPartial;
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
