#include "restore/dir_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "base/error.h"

namespace lifeboat::restore {

DirTable::DirTable(std::string target) : target_(std::move(target)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  DirEntry root;
  root.state = DirEntry::State::kCreated;
  dirs_.push_back(std::move(root));
}

uint32_t DirTable::add(uint32_t parent, std::string name) {
  DirEntry e;
  e.parent = parent;
  e.depth = dirs_[parent].depth + 1;
  e.name = std::move(name);
  dirs_.push_back(std::move(e));
  return static_cast<uint32_t>(dirs_.size() - 1);
}

std::string DirTable::path(uint32_t dir) const {
  std::vector<const std::string*> names;
  size_t length = target_.size();
  for (uint32_t d = dir; d != 0 && d != kNoDir; d = dirs_[d].parent) {
    names.push_back(&dirs_[d].name);
    length += dirs_[d].name.size() + 1;
  }
  std::string out;
  out.reserve(length);
  out = target_;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (out.empty() || out.back() != '/') out += '/';
    out += **it;
  }
  return out;
}

std::string DirTable::path(uint32_t dir, const std::string& name) const {
  std::string out = path(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

DirFds::DirFds(const DirTable& dirs, int root_fd, size_t capacity)
    : dirs_(dirs), root_(std::make_shared<OwnedFd>(root_fd)), capacity_(capacity ? capacity : 1) {}

DirFd DirFds::get(uint32_t dir) {
  if (dir == 0) return root_;
  {
    std::lock_guard lock(mu_);
    auto it = open_.find(dir);
    if (it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.fd;
    }
  }
  // Not cached: open it from its parent (recursively), outside the lock.
  const DirEntry& entry = dirs_[dir];
  DirFd parent = get(entry.parent);
  int fd = openat(parent->get(), entry.name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("open directory " + dirs_.path(dir));
  auto opened = std::make_shared<const OwnedFd>(fd);

  std::lock_guard lock(mu_);
  auto it = open_.find(dir);
  if (it != open_.end()) return it->second.fd;  // another thread was quicker
  lru_.push_front(dir);
  open_.emplace(dir, Slot{opened, lru_.begin()});
  while (open_.size() > capacity_) {
    open_.erase(lru_.back());
    lru_.pop_back();
  }
  return opened;
}

namespace {

bool proc_fd_usable() {
  static const bool usable = access("/proc/self/fd", X_OK) == 0;
  return usable;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

}  // namespace

void with_path_at(int dir_fd, const std::string& name, const std::string& full_path,
                  const std::function<void(const std::string& path)>& fn) {
  if (!proc_fd_usable()) {
    fn(full_path);
    return;
  }
  const std::string at = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  try {
    fn(at);
  } catch (const Error& e) {
    std::string message = e.message();
    replace_all(message, at, full_path);
    throw Error(e.code(), std::move(message));
  }
}

}  // namespace lifeboat::restore
