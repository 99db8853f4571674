#include "fs/metadata.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "base/error.h"

namespace lifeboat::fs {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t to_ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// Floor division, so times before 1970 keep 0 <= tv_nsec < 1e9.
struct timespec from_ns(int64_t ns) {
  int64_t sec = ns / kNsPerSec;
  int64_t rem = ns % kNsPerSec;
  if (rem < 0) {
    rem += kNsPerSec;
    sec -= 1;
  }
  struct timespec ts{};
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(rem);
  return ts;
}

repo::NodeType type_from_mode(mode_t mode, const std::string& path) {
  switch (mode & S_IFMT) {
    case S_IFREG: return repo::NodeType::kFile;
    case S_IFDIR: return repo::NodeType::kDir;
    case S_IFLNK: return repo::NodeType::kSymlink;
    case S_IFBLK: return repo::NodeType::kBlockDevice;
    case S_IFCHR: return repo::NodeType::kCharDevice;
    case S_IFIFO: return repo::NodeType::kFifo;
    case S_IFSOCK: return repo::NodeType::kSocket;
  }
  throw Error(ErrorCode::kIo, "unknown file type of " + path);
}

// uid/gid -> name. Hosting nodes have thousands of files per owner, and NSS
// lookups can be slow (files, ldap), so results are remembered. Lookups run
// outside the lock; two threads may look up the same id once each.
class NameCache {
 public:
  using Lookup = std::string (*)(uint32_t);
  explicit NameCache(Lookup lookup) : lookup_(lookup) {}

  std::string get(uint32_t id) {
    {
      std::lock_guard lock(mu_);
      auto it = names_.find(id);
      if (it != names_.end()) return it->second;
    }
    std::string name = lookup_(id);
    std::lock_guard lock(mu_);
    if (names_.size() >= kMaxEntries) names_.clear();
    names_.emplace(id, name);
    return name;
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  Lookup lookup_;
  std::mutex mu_;
  std::unordered_map<uint32_t, std::string> names_;  // guarded by mu_
};

size_t initial_buffer(int sysconf_name) {
  long n = sysconf(sysconf_name);
  return n > 0 ? static_cast<size_t>(n) : 1024;
}

std::string lookup_user(uint32_t uid) {
  std::string buf(initial_buffer(_SC_GETPW_R_SIZE_MAX), '\0');
  for (;;) {
    struct passwd pw{};
    struct passwd* result = nullptr;
    int rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && result != nullptr ? std::string(result->pw_name) : std::string();
  }
}

std::string lookup_group(uint32_t gid) {
  std::string buf(initial_buffer(_SC_GETGR_R_SIZE_MAX), '\0');
  for (;;) {
    struct group gr{};
    struct group* result = nullptr;
    int rc = getgrgid_r(gid, &gr, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && result != nullptr ? std::string(result->gr_name) : std::string();
  }
}

NameCache& user_names() {
  static NameCache cache(lookup_user);
  return cache;
}

NameCache& group_names() {
  static NameCache cache(lookup_group);
  return cache;
}

std::string read_symlink(const std::string& path, const struct stat& st) {
  // st_size is the target length on most filesystems but 0 on some (procfs);
  // grow until the result fits with room to spare.
  size_t size = st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 256;
  for (;;) {
    std::string target(size, '\0');
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) throw_errno("readlink " + path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    size *= 2;
  }
}

bool is_device(repo::NodeType type) {
  return type == repo::NodeType::kBlockDevice || type == repo::NodeType::kCharDevice;
}

}  // namespace

repo::Node capture_node(const std::string& path, const struct stat& st) {
  repo::Node node;
  node.type = type_from_mode(st.st_mode, path);
  node.mode = st.st_mode & 07777;
  node.uid = st.st_uid;
  node.gid = st.st_gid;
  node.user = user_names().get(st.st_uid);
  node.group = group_names().get(st.st_gid);
  node.mtime_ns = to_ns(st.st_mtim);
  node.atime_ns = to_ns(st.st_atim);
  node.ctime_ns = to_ns(st.st_ctim);
  node.size = node.type == repo::NodeType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
  node.device = st.st_dev;
  node.inode = st.st_ino;
  node.links = st.st_nlink;
  if (is_device(node.type)) node.rdev = st.st_rdev;
  if (node.type == repo::NodeType::kSymlink) node.symlink_target = read_symlink(path, st);
  node.xattrs = read_xattrs(path);
  return node;
}

void create_special(const std::string& path, const repo::Node& node) {
  int rc = 0;
  switch (node.type) {
    case repo::NodeType::kSymlink:
      rc = symlink(node.symlink_target.c_str(), path.c_str());
      if (rc != 0) throw_errno("create symlink " + path);
      return;
    case repo::NodeType::kFifo:
      rc = mkfifo(path.c_str(), 0600);
      if (rc != 0) throw_errno("create fifo " + path);
      return;
    case repo::NodeType::kBlockDevice:
      rc = mknod(path.c_str(), S_IFBLK | 0600, static_cast<dev_t>(node.rdev));
      if (rc != 0) throw_errno("create block device " + path);
      return;
    case repo::NodeType::kCharDevice:
      rc = mknod(path.c_str(), S_IFCHR | 0600, static_cast<dev_t>(node.rdev));
      if (rc != 0) throw_errno("create character device " + path);
      return;
    case repo::NodeType::kSocket:
      rc = mknod(path.c_str(), S_IFSOCK | 0600, 0);
      if (rc != 0) throw_errno("create socket " + path);
      return;
    case repo::NodeType::kFile:
    case repo::NodeType::kDir:
      break;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "create_special called for a file or directory: " + path + " (this is a bug)");
}

void apply_metadata(const std::string& path, const repo::Node& node, const ApplyOptions& options) {
  const char* p = path.c_str();
  bool symlink = node.type == repo::NodeType::kSymlink;
  if (options.restore_owner && lchown(p, node.uid, node.gid) != 0) {
    throw_errno("set owner " + std::to_string(node.uid) + ":" + std::to_string(node.gid) + " of " +
                path);
  }
  // xattrs before the mode: a read-only mode would refuse user.* xattrs
  // to a non-root restore.
  if (options.restore_xattrs) {
    for (const repo::Xattr& x : node.xattrs) {
      if (lsetxattr(p, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        throw_errno("set extended attribute " + x.name + " of " + path);
      }
    }
  }
  // Without AT_SYMLINK_NOFOLLOW: Linux does not implement it for fchmodat,
  // and the path is known not to be a symlink (we created it).
  if (!symlink && fchmodat(AT_FDCWD, p, node.mode & 07777, 0) != 0) {
    throw_errno("set mode of " + path);
  }
  struct timespec times[2] = {from_ns(node.atime_ns), from_ns(node.mtime_ns)};
  if (utimensat(AT_FDCWD, p, times, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno("set times of " + path);
  }
}

void apply_metadata_fd(int fd, const std::string& path_for_messages, const repo::Node& node,
                       const ApplyOptions& options) {
  const std::string& path = path_for_messages;
  if (options.restore_owner && fchown(fd, node.uid, node.gid) != 0) {
    throw_errno("set owner " + std::to_string(node.uid) + ":" + std::to_string(node.gid) + " of " +
                path);
  }
  if (options.restore_xattrs) {
    for (const repo::Xattr& x : node.xattrs) {
      if (fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        throw_errno("set extended attribute " + x.name + " of " + path);
      }
    }
  }
  if (fchmod(fd, node.mode & 07777) != 0) throw_errno("set mode of " + path);
  struct timespec times[2] = {from_ns(node.atime_ns), from_ns(node.mtime_ns)};
  if (futimens(fd, times) != 0) throw_errno("set times of " + path);
}

}  // namespace lifeboat::fs
