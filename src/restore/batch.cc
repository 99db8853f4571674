// run_batch as a list of passes: prepare the target; plan every item in
// order (directories and special files are created while walking); one
// content pass for all of them (files created, written and given their
// metadata as their last part lands); and, per item as soon as its last file
// is done, on a finisher thread: hard links, metadata of special files and
// directories (deepest first, the item's own directory last), verification.
#include "restore/batch.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "base/error.h"
#include "base/thread_pool.h"
#include "fs/metadata.h"
#include "restore/content.h"
#include "restore/dir_table.h"
#include "restore/file_table.h"
#include "restore/planner.h"
#include "restore/reporter.h"
#include "restore/verify.h"

namespace lifeboat::restore {
namespace {

// Directory descriptors kept open for *at() calls.
constexpr size_t kDirCacheSize = 128;
constexpr size_t kMaxOpenFiles = 1000;
// Items finished (linked, given metadata, verified) at once.
constexpr size_t kFinishers = 2;

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

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

void check_items(const std::vector<BatchItem>& items) {
  if (items.size() == 1 && items[0].name.empty()) return;
  std::set<std::string> seen;
  for (const BatchItem& item : items) {
    const std::string& n = item.name;
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos ||
        n.find('\0') != std::string::npos)
      throw Error(ErrorCode::kInvalidArgument,
                  "cannot restore an item named '" + n +
                      "': a batch item needs a plain directory name (no '/', not '.' or '..')");
    if (!seen.insert(n).second)
      throw Error(ErrorCode::kInvalidArgument, "item '" + n + "' is twice in one restore batch");
  }
}

void create_contentless_files(FileTable& files, const Reporter& reporter) {
  for (uint32_t f = 0; f < files.size() && !reporter.aborted(); ++f)
    if (files.expected_parts(f) == 0) files.finish_without_content(f);
}

void make_hard_links(const PlannedLink* begin, const PlannedLink* end, FileTable& files,
                     const DirTable& dirs, DirFds& dir_fds, Reporter& reporter) {
  for (const PlannedLink* link = begin; link != end; ++link) {
    const std::string path = dirs.path(link->dir, link->name);
    if (!files.created(link->file)) {
      reporter.error(path, "not restored: it is a hard link to " + files.path(link->file) +
                               ", which could not be created");
      continue;
    }
    const PlannedFile& target = files.file(link->file);
    try {
      DirFd from = dir_fds.get(target.dir);
      DirFd to = dir_fds.get(link->dir);
      int rc = linkat(from->get(), target.name.c_str(), to->get(), link->name.c_str(), 0);
      if (rc != 0 && errno == EEXIST && unlinkat(to->get(), link->name.c_str(), 0) == 0)
        rc = linkat(from->get(), target.name.c_str(), to->get(), link->name.c_str(), 0);
      if (rc != 0) throw_errno("hard link " + path + " to " + files.path(link->file));
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

void apply_special_metadata(const PlannedSpecial* begin, const PlannedSpecial* end,
                            const DirTable& dirs, DirFds& dir_fds, Reporter& reporter,
                            const fs::ApplyOptions& apply) {
  for (const PlannedSpecial* s = begin; s != end; ++s) {
    const std::string path = dirs.path(s->dir, s->name);
    try {
      DirFd dir = dir_fds.get(s->dir);
      with_path_at(dir->get(), s->name, path,
                   [&](const std::string& p) { fs::apply_metadata(p, s->meta, apply); });
    } catch (const Error& e) {
      reporter.error(path, e.message());
    }
  }
}

// Directories [root, end): `root` is an item's own directory and the others
// are below it.
void apply_dir_metadata(const DirTable& dirs, DirFds& dir_fds, Reporter& reporter,
                        const fs::ApplyOptions& apply, uint32_t root, uint32_t end) {
  std::vector<uint32_t> order;
  for (uint32_t d = root + 1; d < end; ++d)
    if (dirs[d].state == DirEntry::State::kCreated && dirs[d].has_meta) order.push_back(d);
  // Deepest first: a directory's times are set after everything inside it
  // changed, and its mode after nothing more needs to be created in it.
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return dirs[a].depth > dirs[b].depth; });
  if (dirs[root].state == DirEntry::State::kCreated && dirs[root].has_meta) order.push_back(root);

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

// Where one item's entries are in the batch's tables.
struct ItemSpan {
  uint32_t files_begin = 0, files_end = 0;
  uint32_t links_begin = 0, links_end = 0;
  uint32_t specials_begin = 0, specials_end = 0;
  uint32_t dir_root = 0, dirs_end = 0;
};

// Appends `part` (one item's plan) to `all`, renumbering its files.
void append_plan(Plan& all, Plan&& part) {
  const uint32_t base = static_cast<uint32_t>(all.files.size());
  for (BlobRef& r : part.refs) r.file += base;
  for (PlannedLink& l : part.links) l.file += base;
  all.files.insert(all.files.end(), std::make_move_iterator(part.files.begin()),
                   std::make_move_iterator(part.files.end()));
  all.links.insert(all.links.end(), std::make_move_iterator(part.links.begin()),
                   std::make_move_iterator(part.links.end()));
  all.specials.insert(all.specials.end(), std::make_move_iterator(part.specials.begin()),
                      std::make_move_iterator(part.specials.end()));
  all.refs.insert(all.refs.end(), part.refs.begin(), part.refs.end());
  all.content_bytes += part.content_bytes;
}

}  // namespace

std::vector<ItemResult> run_batch(repo::Repository& repo, const std::string& target,
                                  const std::vector<BatchItem>& items,
                                  const BatchOptions& options) {
  check_items(items);
  const RestoreOptions& ro = options.restore;
  BatchProgress* progress = options.progress;
  RestoreProgress* const total = progress ? &progress->total : ro.progress;
  Reporter top(Reporter::ErrorFn{}, total, nullptr, nullptr);
  std::vector<std::unique_ptr<Reporter>> reporters;
  for (size_t i = 0; i < items.size(); ++i) {
    Reporter::ErrorFn on_error;
    if (options.on_error)
      on_error = [&options, i](const std::string& path, const std::string& message) {
        options.on_error(i, path, message);
      };
    reporters.push_back(std::make_unique<Reporter>(
        std::move(on_error), total, progress ? &progress->items[i] : nullptr, &top));
  }
  std::vector<ItemResult> results(items.size());
  const uint64_t fd_limit = raise_fd_limit();
  std::vector<repo::Repository*> repos{&repo};
  repos.insert(repos.end(), ro.more_repos.begin(), ro.more_repos.end());
  Sources sources(std::move(repos));

  // Read each item's top tree before the target is touched. A restore of
  // one snapshot into the target itself fails as a whole if it cannot.
  std::vector<std::optional<RestoreRoot>> roots(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      roots[i] = find_root(sources, items[i].tree, ro.subpath);
    } catch (const Error& e) {
      if (items.size() == 1 && items[0].name.empty()) throw;
      results[i].failure = std::current_exception();
      results[i].failure_message = e.message();
    }
  }
  DirTable dirs(target);
  DirFds dir_fds(dirs, prepare_target(target), kDirCacheSize);
  const fs::ApplyOptions apply{ro.restore_owner && geteuid() == 0, true};

  // 1. Plan every item, in order; directories and special files are created here.
  Plan all;
  std::vector<ItemSpan> spans(items.size());
  std::vector<uint32_t> item_of_file;
  for (size_t i = 0; i < items.size(); ++i) {
    ItemSpan& span = spans[i];
    span.files_begin = span.files_end = static_cast<uint32_t>(all.files.size());
    span.links_begin = span.links_end = static_cast<uint32_t>(all.links.size());
    span.specials_begin = span.specials_end = static_cast<uint32_t>(all.specials.size());
    if (!roots[i]) continue;
    span.dir_root = items[i].name.empty() ? 0 : dirs.add(0, items[i].name);
    Plan part = Planner(sources, ro, dirs, dir_fds, *reporters[i]).run(std::move(*roots[i]), span.dir_root);
    roots[i].reset();
    span.dirs_end = static_cast<uint32_t>(dirs.size());
    const uint64_t kept = static_cast<uint64_t>(
        std::count_if(part.files.begin(), part.files.end(), [](const PlannedFile& f) { return f.present; }));
    results[i].files_total = part.files.size() + part.links.size();
    results[i].bytes_total = part.content_bytes;
    results[i].files_kept = kept;
    reporters[i]->add_totals(part.files.size() + part.links.size(), part.content_bytes);
    append_plan(all, std::move(part));
    span.files_end = static_cast<uint32_t>(all.files.size());
    span.links_end = static_cast<uint32_t>(all.links.size());
    span.specials_end = static_cast<uint32_t>(all.specials.size());
    item_of_file.resize(all.files.size(), static_cast<uint32_t>(i));
    if (progress) progress->phases[i] = BatchProgress::kPlanned;
  }
  if (progress) progress->planned = true;

  // 2. Content for every item at once; each item is finished as soon as its
  //    last file is.
  std::vector<Reporter*> reporter_ptrs;
  for (auto& r : reporters) reporter_ptrs.push_back(r.get());
  std::vector<bool> kept(all.files.size());
  for (size_t f = 0; f < all.files.size(); ++f) kept[f] = all.files[f].present;
  FileTable files(std::move(all.files), dirs, dir_fds, top, apply,
                  open_file_budget(ro, fd_limit));
  files.set_groups(item_of_file, reporter_ptrs);
  const std::vector<BlobRef> refs_by_file = ro.verify ? all.refs : std::vector<BlobRef>();
  const Verifier verifier(repo, dirs, dir_fds, files, refs_by_file, apply);

  auto finish_item = [&](size_t i) {
    ItemResult& result = results[i];
    const ItemSpan& span = spans[i];
    Reporter& rep = *reporters[i];
    if (progress) progress->phases[i] = BatchProgress::kFinishing;
    if (!result.failure) {
      make_hard_links(all.links.data() + span.links_begin, all.links.data() + span.links_end,
                      files, dirs, dir_fds, rep);
      if (rep.aborted()) return;
      apply_special_metadata(all.specials.data() + span.specials_begin,
                             all.specials.data() + span.specials_end, dirs, dir_fds, rep, apply);
      apply_dir_metadata(dirs, dir_fds, rep, apply, span.dir_root, span.dirs_end);
      if (ro.verify && !rep.aborted()) {
        auto mismatch = [&](const std::string& path, const std::string& what) {
          rep.note(path, "differs from the snapshot after restore: " + what);
        };
        result.mismatches =
            verifier.files(span.files_begin, span.files_end, mismatch) +
            verifier.links(all.links.data() + span.links_begin,
                           all.links.data() + span.links_end, mismatch) +
            verifier.specials(all.specials.data() + span.specials_begin,
                              all.specials.data() + span.specials_end, mismatch) +
            verifier.dirs(span.dir_root, span.dirs_end, mismatch);
        result.verified = result.mismatches == 0;
      }
    }
    if (rep.aborted()) return;
    result.counts = rep.result();
    result.started_ns = rep.first_progress_ns();
    result.finished_ns = now_ns();
    if (result.started_ns == 0) result.started_ns = result.finished_ns;
    if (progress) progress->phases[i] = BatchProgress::kDone;
    if (options.on_item_done) options.on_item_done(i, result);
  };

  ThreadPool finishers(kFinishers, items.size() + 1);
  // Files an item still waits for, plus one released once content is
  // planned (so an item with no files at all is finished too).
  std::unique_ptr<std::atomic<uint32_t>[]> remaining(new std::atomic<uint32_t>[items.size()]);
  for (size_t i = 0; i < items.size(); ++i)
    remaining[i] = spans[i].files_end - spans[i].files_begin + 1;
  auto one_less = [&](size_t i) {
    if (remaining[i].fetch_sub(1) != 1) return;
    results[i].restored_ns = now_ns();
    finishers.submit([&, i] { finish_item(i); });
  };
  files.set_on_complete([&](uint32_t f) { one_less(item_of_file[f]); });

  ContentOptions content_options;
  content_options.fetch_threads = std::max<size_t>(1, ro.fetch_threads);
  content_options.worker_threads = std::max<size_t>(1, ro.worker_threads);
  content_options.max_inflight =
      std::clamp<size_t>(content_options.fetch_threads + content_options.worker_threads, 2, 8);
  // Each further repository has fetchers of its own; they get ranges in
  // flight of their own too, up to twice the single-repository bound.
  if (sources.size() > 1)
    content_options.max_inflight =
        std::min(content_options.max_inflight * 2,
                 content_options.max_inflight + content_options.fetch_threads * (sources.size() - 1));
  ContentRestorer content(sources, files, top, content_options);
  std::erase_if(all.refs, [&](const BlobRef& r) { return kept[r.file]; });
  content.plan(std::move(all.refs), items.size() > 1 ? &item_of_file : nullptr);
  for (size_t i = 0; i < items.size(); ++i) one_less(i);
  content.run([&] { create_contentless_files(files, top); });
  finishers.wait();
  if (progress) progress->bytes_fetched = content.stats().bytes_read;
  if (options.source_stats) *options.source_stats = sources.stats();
  top.rethrow_fatal();
  return results;
}

}  // namespace lifeboat::restore
