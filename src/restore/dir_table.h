// The directories of one restore and how to reach them.
//
// Every directory is known by index (0 = the target itself), parent and
// name; nothing keeps full path strings. File system calls are made relative
// to an open parent directory (openat, mkdirat, linkat, ...), so a tree
// deeper than PATH_MAX (40 levels of 255-byte names) restores like any
// other, and a symlink planted in the target cannot redirect a write
// (every step is opened with O_NOFOLLOW).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "repo/tree.h"

namespace lifeboat::restore {

inline constexpr uint32_t kNoDir = UINT32_MAX;

struct DirEntry {
  enum class State : uint8_t { kPending, kCreated, kFailed };
  uint32_t parent = kNoDir;
  uint32_t depth = 0;
  std::string name;
  repo::Node meta;  // without content; applied only if has_meta
  bool has_meta = false;
  State state = State::kPending;
};

// Not thread-safe while growing; read-only (and then thread-safe) once the
// plan is complete. References stay valid as it grows.
class DirTable {
 public:
  explicit DirTable(std::string target);

  uint32_t add(uint32_t parent, std::string name);
  DirEntry& operator[](uint32_t dir) { return dirs_[dir]; }
  const DirEntry& operator[](uint32_t dir) const { return dirs_[dir]; }
  size_t size() const { return dirs_.size(); }
  const std::string& target() const { return target_; }

  // "<target>/<relative path>" of a directory or of an entry in it; for
  // messages (it may exceed PATH_MAX).
  std::string path(uint32_t dir) const;
  std::string path(uint32_t dir, const std::string& name) const;

 private:
  std::string target_;
  std::deque<DirEntry> dirs_;
};

// An open file descriptor, closed when the last holder lets go.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};
using DirFd = std::shared_ptr<const OwnedFd>;

// A bounded cache of O_PATH descriptors of restored directories, opened on
// demand through the chain of parents. Thread-safe; a handle stays valid
// while held even if the cache drops it.
class DirFds {
 public:
  // `root_fd` is the target, open as O_PATH|O_DIRECTORY; DirFds owns it.
  DirFds(const DirTable& dirs, int root_fd, size_t capacity);

  // Throws Error naming the directory if it cannot be opened.
  DirFd get(uint32_t dir);

 private:
  struct Slot {
    DirFd fd;
    std::list<uint32_t>::iterator lru;
  };
  const DirTable& dirs_;
  const DirFd root_;
  const size_t capacity_;
  std::mutex mu_;
  std::list<uint32_t> lru_;                  // most recent first; guarded by mu_
  std::unordered_map<uint32_t, Slot> open_;  // guarded by mu_
};

// Calls fn with a path that names `name` inside the directory open as
// `dir_fd` and works with path-based system calls at any depth
// ("/proc/self/fd/<fd>/<name>"; the plain `full_path` where /proc is not
// mounted). Errors thrown by fn are rethrown naming `full_path` instead.
void with_path_at(int dir_fd, const std::string& name, const std::string& full_path,
                  const std::function<void(const std::string& path)>& fn);

}  // namespace lifeboat::restore
