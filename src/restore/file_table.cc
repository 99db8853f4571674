#include "restore/file_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace lifeboat::restore {

bool all_zero(ByteView data) {
  if (data.empty()) return true;
  return data[0] == 0 && std::memcmp(data.data(), data.data() + 1, data.size() - 1) == 0;
}

FileMeta FileMeta::of(repo::Node&& node) {
  FileMeta m;
  m.size = node.size;
  m.atime_ns = node.atime_ns;
  m.mtime_ns = node.mtime_ns;
  m.mode = node.mode;
  m.uid = node.uid;
  m.gid = node.gid;
  m.xattrs = std::move(node.xattrs);
  return m;
}

repo::Node FileMeta::to_node() const {
  repo::Node n;
  n.type = repo::NodeType::kFile;
  n.size = size;
  n.atime_ns = atime_ns;
  n.mtime_ns = mtime_ns;
  n.mode = mode;
  n.uid = uid;
  n.gid = gid;
  n.xattrs = xattrs;
  return n;
}

FileTable::FileTable(std::vector<PlannedFile> files, const DirTable& dirs, DirFds& dir_fds,
                     Reporter& reporter, fs::ApplyOptions apply, size_t max_open)
    : files_(std::move(files)),
      dirs_(dirs),
      dir_fds_(dir_fds),
      reporter_(reporter),
      apply_(apply),
      max_open_(std::max<size_t>(1, max_open)),
      slots_(new Slot[files_.size()]) {}

FileTable::~FileTable() {
  for (size_t i = 0; i < files_.size(); ++i)
    if (slots_[i].fd >= 0) close(slots_[i].fd);
}

void FileTable::set_groups(std::vector<uint32_t> group, std::vector<Reporter*> reporters) {
  group_ = std::move(group);
  reporters_ = std::move(reporters);
}

void FileTable::expect_parts(uint32_t f, uint32_t parts) {
  slots_[f].parts = parts;
  slots_[f].remaining.store(parts);
}

bool FileTable::created(uint32_t f) const {
  std::lock_guard lock(mu_);
  return slots_[f].created;
}

size_t FileTable::open_files() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t FileTable::max_open_seen() const {
  std::lock_guard lock(mu_);
  return max_open_seen_;
}

int FileTable::open_file(uint32_t f, bool create) {
  const PlannedFile& pf = files_[f];
  DirFd dir = dir_fds_.get(pf.dir);
  int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_TRUNC : 0);
  int fd = openat(dir->get(), pf.name.c_str(), flags, 0600);
  if (fd < 0 && create && (errno == ELOOP || errno == EACCES || errno == ETXTBSY)) {
    // Something is in the way (a symlink, a read-only or busy file): replace it.
    if (unlinkat(dir->get(), pf.name.c_str(), 0) == 0)
      fd = openat(dir->get(), pf.name.c_str(), flags | O_EXCL, 0600);
  }
  if (fd < 0) throw_errno((create ? "create " : "reopen ") + path(f));
  if (create && pf.sparse && ftruncate(fd, static_cast<off_t>(pf.meta.size)) != 0) {
    int err = errno;
    close(fd);
    throw_errno("set size of " + path(f), err);
  }
  return fd;
}

int FileTable::acquire(uint32_t f) {
  Slot& s = slots_[f];
  std::vector<int> to_close;
  bool create;
  {
    std::unique_lock lock(mu_);
    opened_.wait(lock, [&] { return !s.opening; });
    if (s.fd >= 0) {
      if (s.idle) {
        idle_.erase(s.idle_pos);
        s.idle = false;
      }
      ++s.users;
      return s.fd;
    }
    while (open_ >= max_open_ && !idle_.empty()) {
      Slot& victim = slots_[idle_.front()];
      idle_.pop_front();
      victim.idle = false;
      to_close.push_back(victim.fd);
      victim.fd = -1;
      --open_;
    }
    s.opening = true;
    create = !s.created;
    max_open_seen_ = std::max(max_open_seen_, ++open_);
  }
  for (int fd : to_close) close(fd);
  int fd = -1;
  try {
    fd = open_file(f, create);
  } catch (...) {
    std::lock_guard lock(mu_);
    s.opening = false;
    --open_;
    opened_.notify_all();
    throw;
  }
  std::lock_guard lock(mu_);
  s.opening = false;
  s.fd = fd;
  s.created = true;
  s.users = 1;
  opened_.notify_all();
  return fd;
}

void FileTable::release(uint32_t f) {
  std::lock_guard lock(mu_);
  Slot& s = slots_[f];
  if (--s.users == 0 && s.fd >= 0) {
    idle_.push_back(f);
    s.idle_pos = std::prev(idle_.end());
    s.idle = true;
  }
}

void FileTable::write_part(uint32_t f, uint64_t offset, ByteView data, bool zero) {
  if (reporter_.aborted()) return;
  if (slots_[f].unopenable.load()) {
    part_done(f);
    return;
  }
  if (!(zero && files_[f].sparse)) {
    int fd;
    try {
      fd = acquire(f);
    } catch (const Error& e) {
      slots_[f].unopenable.store(true);
      handle_error(f, e);
      part_done(f);
      return;
    }
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        release(f);
        handle_error(
            f, Error(error_code_from_errno(err), "write " + path(f) + ": " + std::strerror(err)));
        part_done(f);
        return;
      }
      done += static_cast<size_t>(n);
    }
    release(f);
  }
  reporter(f).bytes_done(data.size());
  part_done(f);
}

void FileTable::fail_part(uint32_t f, const std::string& message) {
  fail(f, message);
  part_done(f);
}

void FileTable::mark_failed(uint32_t f, const std::string& message) { fail(f, message); }

void FileTable::finish_without_content(uint32_t f) { finish(f); }

void FileTable::part_done(uint32_t f) {
  if (slots_[f].remaining.fetch_sub(1) == 1) finish(f);
}

void FileTable::finish(uint32_t f) {
  if (reporter_.aborted()) return;
  Slot& s = slots_[f];
  const PlannedFile& pf = files_[f];
  if (s.unopenable.load()) {
    completed(f);
    return;
  }
  if (pf.present) {
    {
      std::lock_guard lock(mu_);
      s.created = true;
    }
    reporter(f).file_done();
    completed(f);
    return;
  }
  int fd;
  try {
    fd = acquire(f);
  } catch (const Error& e) {
    handle_error(f, e);
    completed(f);
    return;
  }
  try {
    // Parts that could not be written leave the file short: give it its size
    // (the missing ranges read as zeros) so only the named ranges are wrong.
    if (s.failed.load() && ftruncate(fd, static_cast<off_t>(pf.meta.size)) != 0)
      throw_errno("set size of " + path(f));
    fs::apply_metadata_fd(fd, path(f), pf.meta.to_node(), apply_);
  } catch (const Error& e) {
    handle_error(f, e);
  }
  {
    std::lock_guard lock(mu_);
    s.fd = -1;
    s.users = 0;
    --open_;
  }
  int rc = close(fd);
  if (rc != 0 && errno != EINTR) {
    int err = errno;
    handle_error(f,
                 Error(error_code_from_errno(err), "close " + path(f) + ": " + std::strerror(err)));
  }
  if (!s.failed.load()) reporter(f).file_done();
  completed(f);
}

void FileTable::fail(uint32_t f, const std::string& message) {
  if (!slots_[f].failed.exchange(true))
    reporter(f).error(path(f), message);
  else
    reporter(f).note(path(f), message);
}

void FileTable::handle_error(uint32_t f, const Error& e) {
  if (e.code() == ErrorCode::kNoSpace) {
    reporter_.fatal(Error(ErrorCode::kNoSpace,
                          "restore stopped, the target is full: " + e.message() +
                              "; free space (or raise the quota) and run the restore again"));
    return;
  }
  fail(f, e.message());
}

}  // namespace lifeboat::restore
