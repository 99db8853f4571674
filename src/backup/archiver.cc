#include "backup/archiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "backup/file_reader.h"
#include "base/error.h"
#include "base/thread_pool.h"
#include "base/work_queue.h"
#include "fs/metadata.h"
#include "fs/walk.h"

namespace lifeboat::backup {

namespace {

constexpr size_t kMaxErrorPaths = 100;

// One directory being archived. Its tree is saved once `pending` (its own
// listing plus every unfinished child) drops to zero.
struct DirJob {
  std::string path;                 // on disk
  std::string rel;                  // relative to the backup root, "" for the root
  std::optional<Id> old_tree;       // this directory's tree in the parent snapshot
  std::vector<repo::Node> nodes;    // sorted by name
  std::vector<uint8_t> dropped;     // entries that vanished
  std::atomic<int> pending{1};
  std::shared_ptr<DirJob> parent;   // null for the root
  size_t index_in_parent = 0;
};

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

bool valid_entry_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\0", 2)) == std::string::npos;
}

bool unchanged(const repo::Node& old, const repo::Node& now) {
  return old.type == repo::NodeType::kFile && !old.damaged && old.size == now.size &&
         old.mtime_ns == now.mtime_ns && old.ctime_ns == now.ctime_ns && old.inode == now.inode;
}

class Archiver {
  bool can_reuse_content(const repo::Node& old) const {
    for (const auto& part : old.content)
      if (!part.is_hole() && !repo_.can_reference(part.blob)) return false;
    return true;
  }

 public:
  Archiver(repo::Repository& repo, const std::string& root, const BackupOptions& options)
      : repo_(repo),
        root_(root),
        options_(options),
        clock_(options.clock ? options.clock : now_unix_nanos),
        chunker_(repo.gear(), repo.config().chunker),
        cpu_pool_(2, 4),
        reader_(repo, chunker_, cpu_pool_, tally_, options.test_hook),
        walk_(std::max<size_t>(1, options.io_threads)) {
    if (!options_.progress) options_.progress = &own_progress_;
  }

  BackupResult run();

 private:
  void process_dir(const std::shared_ptr<DirJob>& job);
  void process_file(const std::shared_ptr<DirJob>& job, size_t index, bool had_previous);
  std::optional<size_t> place_streamed_dir(DirJob& root);
  void process_streamed(const std::shared_ptr<DirJob>& root, size_t index);
  repo::Node synthesized(const std::string& name, repo::NodeType type, uint32_t mode,
                         UnixNanos time) const;
  void child_done(const std::shared_ptr<DirJob>& job);
  void finalize(const std::shared_ptr<DirJob>& job);
  bool excluded(const std::string& rel, const std::string& name) const;
  void report(const std::string& path, const std::string& message);
  void warn(const std::string& path, const std::string& message);
  std::optional<Id> old_root_tree();
  void scan_totals();

  repo::Repository& repo_;
  std::string root_;
  BackupOptions options_;
  std::function<UnixNanos()> clock_;
  repo::Node root_node_;  // the root's metadata: owner of synthesized entries
  chunk::Chunker chunker_;
  ThreadPool cpu_pool_;
  // What this backup stored (exact even when other backups share repo_).
  repo::SaveTally tally_;
  FileReader reader_;
  WorkQueue walk_;
  BackupProgress own_progress_;
  // Directories submitted but not yet listed: the walk is finished (and the
  // totals for an ETA are known) when this reaches zero, long before the
  // last file has been read.
  std::atomic<uint64_t> dirs_unlisted_{0};
  std::atomic<bool> stop_scan_{false};

  std::mutex mu_;  // guards the members below
  repo::SnapshotSummary summary_;
  std::vector<std::string> error_paths_;
  std::optional<Id> root_tree_;
  std::vector<StreamedOutcome> streamed_;
  // Hard links: content of the first path read, by (device, inode).
  std::map<std::pair<uint64_t, uint64_t>, std::vector<repo::ContentPart>> links_;
};

void Archiver::report(const std::string& path, const std::string& message) {
  options_.progress->errors++;
  {
    std::lock_guard lock(mu_);
    summary_.errors++;
    if (error_paths_.size() < kMaxErrorPaths) error_paths_.push_back(path);
  }
  if (options_.on_error) options_.on_error(path, message);
}

void Archiver::warn(const std::string& path, const std::string& message) {
  if (options_.on_warning) options_.on_warning(path, message);
}

bool Archiver::excluded(const std::string& rel, const std::string& name) const {
  for (const auto& pattern : options_.excludes) {
    if (::fnmatch(pattern.c_str(), rel.c_str(), 0) == 0) return true;
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

std::optional<Id> Archiver::old_root_tree() {
  if (!options_.parent || options_.force_reread) return std::nullopt;
  try {
    repo::Tree top = repo_.load_tree(options_.parent->tree);
    if (top.nodes.size() == 1 && top.nodes[0].type == repo::NodeType::kDir)
      return top.nodes[0].subtree;
  } catch (const Error& e) {
    if (options_.on_error)
      options_.on_error(root_, "parent snapshot unreadable, reading every file: " + e.message());
  }
  return std::nullopt;
}

void Archiver::process_dir(const std::shared_ptr<DirJob>& job) {
  std::vector<std::string> names;
  try {
    names = fs::read_dir_names(job->path);
  } catch (const Error& e) {
    if (!job->parent) throw;  // an unreadable root is a failed backup, not a partial one
    report(job->path, e.message());
    job->parent->nodes[job->index_in_parent].damaged = true;
  }

  // The parent snapshot's version of this directory, for change detection.
  repo::Tree old;
  if (job->old_tree) {
    try {
      old = repo_.load_tree(*job->old_tree);
    } catch (const Error& e) {
      if (options_.on_error) options_.on_error(job->path, "previous tree unreadable: " + e.message());
    }
  }
  auto find_old = [&](const std::string& name) -> const repo::Node* {
    auto it = std::lower_bound(old.nodes.begin(), old.nodes.end(), name,
                               [](const repo::Node& n, const std::string& k) { return n.name < k; });
    return it != old.nodes.end() && it->name == name ? &*it : nullptr;
  };

  job->nodes.reserve(names.size());
  for (const auto& name : names) {
    std::string rel = join(job->rel, name);
    if (excluded(rel, name)) continue;
    std::string full = join(job->path, name);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      int err = errno;
      report(full, err == ENOENT ? "vanished during backup" : std::string("cannot stat: ") + strerror(err));
      continue;
    }
    try {
      repo::Node node = fs::capture_node(full, st);
      node.name = name;
      // Access times change whenever anything reads the file (including this
      // backup); recording them would make every tree differ every night.
      if (!options_.with_atime) node.atime_ns = node.mtime_ns;
      job->nodes.push_back(std::move(node));
    } catch (const Error& e) {
      report(full, e.message());
    }
  }
  std::optional<size_t> streamed_at;
  if (!job->parent && options_.streamed) streamed_at = place_streamed_dir(*job);
  job->dropped.assign(job->nodes.size(), 0);

  uint64_t dirs = 0, other = 0, unmodified = 0, unmodified_bytes = 0, seen_bytes = 0, seen_files = 0;
  for (size_t i = 0; i < job->nodes.size(); ++i) {
    if (i == streamed_at) continue;  // not on disk: process_streamed builds it
    repo::Node& node = job->nodes[i];
    const repo::Node* prev = find_old(node.name);
    if (node.type == repo::NodeType::kDir) {
      ++dirs;
      auto child = std::make_shared<DirJob>();
      child->path = join(job->path, node.name);
      child->rel = join(job->rel, node.name);
      if (prev && prev->type == repo::NodeType::kDir) child->old_tree = prev->subtree;
      child->parent = job;
      child->index_in_parent = i;
      job->pending++;
      dirs_unlisted_++;
      walk_.submit([this, child] { process_dir(child); });
    } else if (node.type == repo::NodeType::kFile) {
      ++seen_files;
      seen_bytes += node.size;
      // A pending prune plan may be about to delete the parent's copy of
      // this content (repo/writer_registration.h): then read the file again.
      if (prev && unchanged(*prev, node) && can_reuse_content(*prev)) {
        node.content = prev->content;
        ++unmodified;
        unmodified_bytes += node.size;
      } else {
        job->pending++;
        bool had_previous = prev != nullptr;
        walk_.submit([this, job, i, had_previous] { process_file(job, i, had_previous); });
      }
    } else {
      ++other;
    }
  }
  if (!options_.count_totals) {
    options_.progress->files_seen += seen_files;
    options_.progress->bytes_seen += seen_bytes;
  }
  options_.progress->files_done += unmodified;
  options_.progress->bytes_done += unmodified_bytes;
  {
    std::lock_guard lock(mu_);
    summary_.dirs += dirs;
    summary_.other_entries += other;
    summary_.files_unmodified += unmodified;
    summary_.bytes_total += unmodified_bytes;
  }
  if (--dirs_unlisted_ == 0 && !options_.count_totals) options_.progress->walk_finished = true;
  if (streamed_at) {
    job->pending++;
    size_t at = *streamed_at;
    walk_.submit([this, job, at] { process_streamed(job, at); });
  }
  child_done(job);
}

repo::Node Archiver::synthesized(const std::string& name, repo::NodeType type, uint32_t mode,
                                 UnixNanos time) const {
  repo::Node n;
  n.name = name;
  n.type = type;
  n.mode = mode;
  n.uid = root_node_.uid;
  n.gid = root_node_.gid;
  n.user = root_node_.user;
  n.group = root_node_.group;
  n.mtime_ns = n.atime_ns = n.ctime_ns = time;
  return n;
}

// Puts the streamed directory's top entry into the root's (sorted) entries,
// in place of an entry of that name on disk, and returns its index.
std::optional<size_t> Archiver::place_streamed_dir(DirJob& root) {
  const std::string top = split_path(options_.streamed->path).front();
  auto& nodes = root.nodes;
  auto it = std::lower_bound(nodes.begin(), nodes.end(), top,
                             [](const repo::Node& n, const std::string& k) { return n.name < k; });
  if (it != nodes.end() && it->name == top) {
    warn(join(root_, top),
         "not backed up: this name is reserved for lifeboat's database dumps, which take its "
         "place in the snapshot; rename it to have it backed up");
    it = nodes.erase(it);
  }
  it = nodes.insert(it, synthesized(top, repo::NodeType::kDir, 0700, clock_()));
  return static_cast<size_t>(it - nodes.begin());
}

// Reads the streamed files one after another and saves the synthesized
// directories bottom-up, then completes the root's entry like a child
// directory would.
void Archiver::process_streamed(const std::shared_ptr<DirJob>& root, size_t index) {
  const StreamedDir& dir = *options_.streamed;
  const std::vector<std::string> parts = split_path(dir.path);
  const std::string dir_path = join(root_, dir.path);
  const UnixNanos started = clock_();

  bool damaged = false;
  for (const auto& message : dir.errors) {
    report(dir_path, message);
    damaged = true;
  }
  repo::Tree tree;
  std::vector<StreamedOutcome> outcomes;
  for (const StreamedFile& file : dir.files) {
    const std::string path = join(dir_path, file.name);
    repo::Node node = synthesized(file.name, repo::NodeType::kFile, 0600, clock_());
    StreamedOutcome outcome{file.name, 0, ""};
    options_.progress->files_seen++;
    uint64_t counted = 0;
    try {
      std::unique_ptr<ByteStream> stream = file.open();
      FileReadResult r = reader_.read_stream(*stream, &options_.progress->bytes_read);
      node.content = std::move(r.content);
      node.size = r.size;
      counted = r.bytes_read;
      stream->finish();
    } catch (const RepositoryError&) {
      throw;  // the repository failed: the whole backup fails
    } catch (const Error& e) {
      outcome.error = e.message();
    }
    if (!outcome.error.empty()) {
      node.damaged = true;
      report(path, outcome.error);
    }
    outcome.bytes = node.size;
    outcomes.push_back(std::move(outcome));
    if (!options_.count_totals) options_.progress->bytes_seen += node.size;
    options_.progress->files_done++;
    options_.progress->bytes_done += node.size;
    {
      std::lock_guard lock(mu_);
      summary_.files_new++;  // never compared with the parent: always read
      summary_.bytes_total += node.size;
      summary_.bytes_read += counted;
    }
    tree.nodes.push_back(std::move(node));
  }
  std::sort(tree.nodes.begin(), tree.nodes.end(),
            [](const repo::Node& a, const repo::Node& b) { return a.name < b.name; });

  Id id = repo_.save_tree(tree, &tally_);
  for (size_t k = parts.size() - 1; k >= 1; --k) {
    repo::Node d = synthesized(parts[k], repo::NodeType::kDir, 0700, started);
    d.subtree = id;
    d.damaged = damaged && k == parts.size() - 1;
    repo::Tree up;
    up.nodes.push_back(std::move(d));
    id = repo_.save_tree(up, &tally_);
  }
  repo::Node& top = root->nodes[index];
  top.subtree = id;
  top.mtime_ns = top.atime_ns = top.ctime_ns = started;
  if (parts.size() == 1) top.damaged = damaged;
  {
    std::lock_guard lock(mu_);
    summary_.dirs += parts.size();
    streamed_ = std::move(outcomes);
  }
  child_done(root);
}

void Archiver::process_file(const std::shared_ptr<DirJob>& job, size_t index, bool had_previous) {
  repo::Node& node = job->nodes[index];
  std::string path = join(job->path, node.name);
  const auto link_key = std::make_pair(node.device, node.inode);

  std::optional<std::vector<repo::ContentPart>> linked;
  if (node.links > 1) {
    std::lock_guard lock(mu_);
    auto it = links_.find(link_key);
    if (it != links_.end()) linked = it->second;
  }

  uint64_t counted = 0;
  if (linked) {
    node.content = *linked;
  } else {
    try {
      FileReadResult r = reader_.read(path, &options_.progress->bytes_read);
      node.content = std::move(r.content);
      node.size = r.size;
      node.mtime_ns = int64_t{r.final_stat.st_mtim.tv_sec} * 1000000000 + r.final_stat.st_mtim.tv_nsec;
      node.ctime_ns = int64_t{r.final_stat.st_ctim.tv_sec} * 1000000000 + r.final_stat.st_ctim.tv_nsec;
      counted = r.bytes_read;
      if (r.changed) {
        node.damaged = true;
        report(path, "changed while being read; stored as read and marked damaged");
      }
      if (node.links > 1) {
        std::lock_guard lock(mu_);
        links_.emplace(link_key, node.content);
      }
    } catch (const RepositoryError&) {
      throw;  // the repository failed: the whole backup fails
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) {
        job->dropped[index] = 1;
        report(path, "vanished during backup");
      } else {
        node.damaged = true;
        node.content.clear();
        node.size = 0;
        report(path, e.message());
      }
    }
  }
  options_.progress->files_done++;
  options_.progress->bytes_done += node.size;
  {
    std::lock_guard lock(mu_);
    if (had_previous) summary_.files_changed++; else summary_.files_new++;
    summary_.bytes_total += node.size;
    summary_.bytes_read += counted;
  }
  child_done(job);
}

void Archiver::child_done(const std::shared_ptr<DirJob>& job) {
  if (--job->pending == 0) finalize(job);
}

void Archiver::finalize(const std::shared_ptr<DirJob>& job) {
  repo::Tree tree;
  tree.nodes.reserve(job->nodes.size());
  for (size_t i = 0; i < job->nodes.size(); ++i)
    if (!job->dropped[i]) tree.nodes.push_back(std::move(job->nodes[i]));
  Id id = repo_.save_tree(tree, &tally_);
  job->nodes.clear();
  job->nodes.shrink_to_fit();
  if (job->parent) {
    job->parent->nodes[job->index_in_parent].subtree = id;
    auto parent = job->parent;
    job->parent.reset();
    child_done(parent);
  } else {
    std::lock_guard lock(mu_);
    root_tree_ = id;
  }
}

// A stat-only walk that counts what the backup will see. It runs beside the
// real walk (which needs far longer, reading the files) and warms the inode
// cache for it; errors are ignored here, the real walk reports them.
void Archiver::scan_totals() {
  std::vector<std::pair<std::string, std::string>> stack{{root_, ""}};
  uint64_t files = 0, bytes = 0;
  while (!stack.empty() && !stop_scan_) {
    auto [dir, rel] = std::move(stack.back());
    stack.pop_back();
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      continue;
    }
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string child_rel = join(rel, name);
      if (excluded(child_rel, name)) continue;
      struct stat st;
      if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        stack.emplace_back(join(dir, name), child_rel);
      } else if (S_ISREG(st.st_mode)) {
        ++files;
        bytes += static_cast<uint64_t>(st.st_size);
      }
    }
    ::closedir(d);
    options_.progress->files_seen = files;
    options_.progress->bytes_seen = bytes;
  }
  if (!stop_scan_) options_.progress->walk_finished = true;
}

BackupResult Archiver::run() {
  auto clock = clock_;
  const UnixNanos started = clock();
  if (options_.streamed) {
    for (const auto& part : split_path(options_.streamed->path))
      if (!valid_entry_name(part))
        throw Error(ErrorCode::kInvalidArgument,
                    "streamed directory '" + options_.streamed->path + "' is not a relative path");
    std::vector<std::string> names;
    for (const auto& f : options_.streamed->files) {
      if (!valid_entry_name(f.name))
        throw Error(ErrorCode::kInvalidArgument, "streamed file name '" + f.name + "' is not valid");
      names.push_back(f.name);
    }
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end())
      throw Error(ErrorCode::kInvalidArgument, "streamed file names repeat");
  }

  struct stat st;
  if (::stat(root_.c_str(), &st) != 0) throw_errno("cannot back up " + root_);
  if (!S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kInvalidArgument, "cannot back up " + root_ + ": not a directory");
  repo::Node root_node = fs::capture_node(root_, st);
  root_node.name = ".";
  if (!options_.with_atime) root_node.atime_ns = root_node.mtime_ns;
  root_node_ = root_node;

  auto job = std::make_shared<DirJob>();
  job->path = root_;
  job->old_tree = old_root_tree();
  dirs_unlisted_ = 1;
  std::thread scanner;
  if (options_.count_totals) scanner = std::thread([this] { scan_totals(); });
  struct JoinScanner {
    std::thread& t;
    std::atomic<bool>& stop;
    ~JoinScanner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_scanner{scanner, stop_scan_};
  walk_.submit([this, job] { process_dir(job); });
  walk_.run_until_idle();
  // The walk is complete, so its counts are the exact totals (a scanner
  // still running would be behind): stop it and publish them.
  stop_scan_ = true;
  if (scanner.joinable()) scanner.join();
  options_.progress->files_seen = options_.progress->files_done.load();
  options_.progress->bytes_seen = options_.progress->bytes_done.load();
  options_.progress->walk_finished = true;
  cpu_pool_.wait();
  if (!root_tree_) throw Error(ErrorCode::kInternal, "backup of " + root_ + " produced no tree");

  root_node.subtree = *root_tree_;
  repo::Tree top;
  top.nodes.push_back(root_node);
  Id top_id = repo_.save_tree(top, &tally_);
  // Law 2: packs, then the index segment naming them, then the snapshot.
  repo_.flush();

  repo::Snapshot snap;
  snap.time = options_.snapshot_time.value_or(started);
  snap.node = options_.node;
  snap.account = options_.account;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  snap.hostname = host;
  if (auto* pw = ::getpwuid(::geteuid())) snap.username = pw->pw_name;
  snap.paths = {root_};
  snap.tags = options_.tags;
  snap.tree = top_id;
  snap.parent = options_.parent_id;
  {
    std::lock_guard lock(mu_);
    snap.summary = summary_;
    snap.error_paths = error_paths_;
  }
  snap.summary.started = started;
  snap.summary.finished = clock();
  snap.summary.blobs_added = tally_.blobs.load();
  snap.summary.bytes_added = tally_.bytes.load();
  snap.summary.bytes_stored = tally_.bytes_stored.load();
  snap.partial = snap.summary.errors > 0;
  snap.program_version = "lifeboat 0.1.0";

  BackupResult result;
  result.snapshot_id = repo_.save_snapshot(snap);
  result.partial = snap.partial;
  result.snapshot = std::move(snap);
  {
    std::lock_guard lock(mu_);
    result.streamed = std::move(streamed_);
  }
  return result;
}

}  // namespace

BackupResult run_backup(repo::Repository& repo, const std::string& root,
                        const BackupOptions& options) {
  std::string clean = root;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  // A blob in a lost pack is stored again, never named by a new snapshot.
  repo.forget_missing_packs();
  Archiver archiver(repo, clean, options);
  return archiver.run();
}

}  // namespace lifeboat::backup
