// run_restore as a list of passes: prepare the target, plan (directories
// and special files are created while walking), content (files created,
// written and given their metadata as their last part lands), hard links,
// then the remaining metadata: special files, directories deepest first,
// the target last.
#include "restore/restorer.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "fs/metadata.h"
#include "restore/content.h"
#include "restore/dir_table.h"
#include "restore/file_table.h"
#include "restore/planner.h"
#include "restore/reporter.h"

namespace lifeboat::restore {
namespace {

// Directory descriptors kept open for *at() calls.
constexpr size_t kDirCacheSize = 128;
constexpr size_t kMaxOpenFiles = 1000;

// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft limit.
uint64_t raise_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
}

size_t open_file_budget(const RestoreOptions& options, uint64_t fd_limit) {
  if (options.max_open_files > 0) return options.max_open_files;
  return static_cast<size_t>(std::clamp<uint64_t>(fd_limit / 4, 16, kMaxOpenFiles));
}

[[noreturn]] void target_error(const std::string& target, int err, const std::string& what) {
  ErrorCode code = error_code_from_errno(err);
  if (err == ENOTDIR || err == EEXIST) code = ErrorCode::kInvalidArgument;
  throw Error(code, "restore target " + target + " " + what + ": " + std::strerror(err));
}

// Creates the target (mkdir -p) and returns it open as O_PATH. Throws Error
// naming the target if it is not a writable directory.
int prepare_target(const std::string& target) {
  if (target.empty()) throw Error(ErrorCode::kInvalidArgument, "no restore target given");
  std::error_code ec;
  std::filesystem::create_directories(target, ec);
  struct stat st;
  if (lstat(target.c_str(), &st) != 0 && ec) target_error(target, ec.value(), "cannot be created");
  int fd = open(target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR)
      throw Error(
          ErrorCode::kInvalidArgument,
          "restore target " + target + " exists and is not a directory; choose another target");
    target_error(target, err, "cannot be opened");
  }
  if (access(target.c_str(), W_OK | X_OK) != 0) {
    int err = errno;
    close(fd);
    target_error(target, err, "is not writable");
  }
  return fd;
}

void create_contentless_files(FileTable& files, const Reporter& reporter) {
  for (uint32_t f = 0; f < files.size() && !reporter.aborted(); ++f)
    if (files.expected_parts(f) == 0) files.finish_without_content(f);
}

void make_hard_links(const std::vector<PlannedLink>& links, FileTable& files, const DirTable& dirs,
                     DirFds& dir_fds, Reporter& reporter) {
  for (const PlannedLink& link : links) {
    const std::string path = dirs.path(link.dir, link.name);
    if (!files.created(link.file)) {
      reporter.error(path, "not restored: it is a hard link to " + files.path(link.file) +
                               ", which could not be created");
      continue;
    }
    const PlannedFile& target = files.file(link.file);
    try {
      DirFd from = dir_fds.get(target.dir);
      DirFd to = dir_fds.get(link.dir);
      int rc = linkat(from->get(), target.name.c_str(), to->get(), link.name.c_str(), 0);
      if (rc != 0 && errno == EEXIST && unlinkat(to->get(), link.name.c_str(), 0) == 0)
        rc = linkat(from->get(), target.name.c_str(), to->get(), link.name.c_str(), 0);
      if (rc != 0) throw_errno("hard link " + path + " to " + files.path(link.file));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNoSpace) {
        reporter.fatal(
            Error(ErrorCode::kNoSpace, "restore stopped, the target is full: " + e.message() +
                                           "; free space and run it again"));
        return;
      }
      reporter.error(path, e.message());
      continue;
    }
    reporter.file_done();
  }
}

void apply_special_metadata(const std::vector<PlannedSpecial>& specials, const DirTable& dirs,
                            DirFds& dir_fds, Reporter& reporter, const fs::ApplyOptions& apply) {
  for (const PlannedSpecial& s : specials) {
    const std::string path = dirs.path(s.dir, s.name);
    try {
      DirFd dir = dir_fds.get(s.dir);
      with_path_at(dir->get(), s.name, path,
                   [&](const std::string& p) { fs::apply_metadata(p, s.meta, apply); });
    } catch (const Error& e) {
      reporter.error(path, e.message());
    }
  }
}

void apply_dir_metadata(DirTable& dirs, DirFds& dir_fds, Reporter& reporter,
                        const fs::ApplyOptions& apply) {
  std::vector<uint32_t> order;
  for (uint32_t d = 1; d < dirs.size(); ++d)
    if (dirs[d].state == DirEntry::State::kCreated && dirs[d].has_meta) order.push_back(d);
  // Deepest first: a directory's times are set after everything inside it
  // changed, and its mode after nothing more needs to be created in it.
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return dirs[a].depth > dirs[b].depth; });
  if (dirs[0].has_meta) order.push_back(0);

  for (uint32_t d : order) {
    const std::string path = dirs.path(d);
    try {
      int fd;
      if (d == 0) {
        fd = openat(dir_fds.get(0)->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      } else {
        DirFd parent = dir_fds.get(dirs[d].parent);
        fd = openat(parent->get(), dirs[d].name.c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) throw_errno("open directory " + path);
      OwnedFd owned(fd);
      fs::apply_metadata_fd(fd, path, dirs[d].meta, apply);
    } catch (const Error& e) {
      reporter.error(path, e.message());
    }
  }
}

}  // namespace

RestoreResult run_restore(repo::Repository& repo, const Id& root_tree, const std::string& target,
                          const RestoreOptions& options) {
  Reporter reporter(options);
  const uint64_t fd_limit = raise_fd_limit();
  // Before the target is touched: the snapshot and the subpath are there.
  RestoreRoot root = find_root(repo, root_tree, options.subpath);
  DirTable dirs(target);
  DirFds dir_fds(dirs, prepare_target(target), kDirCacheSize);
  const fs::ApplyOptions apply{options.restore_owner && geteuid() == 0, true};

  // 1. Plan: walk the trees; directories and special files are created here.
  Plan plan = Planner(repo, options, dirs, dir_fds, reporter).run(std::move(root));
  reporter.add_totals(plan.files.size() + plan.links.size(), plan.content_bytes);

  // 2. Content: each blob fetched once, written wherever it is needed.
  FileTable files(std::move(plan.files), dirs, dir_fds, reporter, apply,
                  open_file_budget(options, fd_limit));
  ContentOptions content_options;
  content_options.fetch_threads = std::max<size_t>(1, options.fetch_threads);
  content_options.worker_threads = std::max<size_t>(1, options.worker_threads);
  content_options.max_inflight =
      std::clamp<size_t>(content_options.fetch_threads + content_options.worker_threads, 2, 8);
  ContentRestorer content(repo, files, reporter, content_options);
  content.plan(std::move(plan.refs));
  content.run([&] { create_contentless_files(files, reporter); });
  reporter.rethrow_fatal();

  // 3. Hard links, now that their targets are complete.
  make_hard_links(plan.links, files, dirs, dir_fds, reporter);
  reporter.rethrow_fatal();

  // 4. Metadata of what is not a regular file, directories last.
  apply_special_metadata(plan.specials, dirs, dir_fds, reporter, apply);
  apply_dir_metadata(dirs, dir_fds, reporter, apply);
  return reporter.result();
}

}  // namespace lifeboat::restore
