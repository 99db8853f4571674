#include "backend/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "base/hex.h"

namespace lifeboat::backend {

namespace {

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;
constexpr size_t kMaxIo = size_t{1} << 30;  // per read/write call

// Throws the error for a failed system call on `what` ("writing /r/data/ab/ab12"),
// with a hint on what to do where there is an obvious one.
[[noreturn]] void fail(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT: message += "; free space on the repository's disk, then retry"; break;
    case EACCES:
    case EPERM: message += "; check the repository's permissions"; break;
    case EROFS: message += "; the repository's filesystem is read-only"; break;
    default: break;
  }
  throw Error(error_code_from_errno(err), std::move(message));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close(2)'s error (which can carry a write error).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

class Dir {
 public:
  explicit Dir(DIR* d) : d_(d) {}
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    if (d_) ::closedir(d_);
  }
  DIR* get() const { return d_; }

 private:
  DIR* d_;
};

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes the directory's entries durable. Filesystems that cannot sync a
// directory say EINVAL/ENOTSUP; there is nothing more to do on those.
void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("opening directory " + dir + " to sync it", errno);
  Fd guard(fd);
  if (::fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP) {
    fail("syncing directory " + dir, errno);
  }
}

std::string random_hex() {
  uint8_t buf[8];
  if (::getrandom(buf, sizeof buf, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof buf)) {
    // Only uniqueness matters here (O_EXCL catches a collision).
    thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t v = rng();
    std::memcpy(buf, &v, sizeof buf);
  }
  return to_hex(ByteView(buf, sizeof buf));
}

// Creates the directory; returns false if it already existed.
bool make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), kDirMode) == 0) return true;
  int err = errno;
  struct stat st;
  if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
  fail("creating directory " + path, err == EEXIST ? ENOTDIR : err);
}

void write_all(int fd, ByteView data, const std::string& object) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, std::min(left, kMaxIo));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing " + object, errno);
    }
    if (n == 0) fail("writing " + object, EIO);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Calls fn(name, size) for every regular file in `dir` not starting with '.'.
// A missing directory holds nothing.
void list_files(const std::string& dir,
                const std::function<void(std::string_view, uint64_t)>& fn) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    fail("listing " + dir, errno);
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    fail("listing " + dir, err);
  }
  Dir guard(d);
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) fail("listing " + dir, errno);
      return;
    }
    if (e->d_name[0] == '.') continue;  // ".", "..", temporary files
    struct stat st;
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed while we were listing
      fail("listing " + dir + "/" + e->d_name, errno);
    }
    if (!S_ISREG(st.st_mode)) continue;
    fn(e->d_name, static_cast<uint64_t>(st.st_size));
  }
}

// The first entry of `root` that a repository being created there does not
// expect. An earlier, interrupted create(), hidden files and a fresh
// filesystem's lost+found are expected.
std::optional<std::string> first_foreign_entry(const std::string& root) {
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) fail("listing " + root, errno);
  Dir guard(d);
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) fail("listing " + root, errno);
      return std::nullopt;
    }
    std::string_view name = e->d_name;
    if (name[0] == '.' || name == "lost+found") continue;
    bool layout = false;
    for (ObjectType t : {ObjectType::kKey, ObjectType::kData, ObjectType::kIndex,
                         ObjectType::kSnapshot, ObjectType::kLock}) {
      layout |= name == object_type_dir(t);
    }
    if (!layout) return std::string(name);
  }
}

}  // namespace

LocalBackend::LocalBackend(std::string root) : root_(std::move(root)) {
  if (root_.empty()) throw Error(ErrorCode::kInvalidArgument, "empty repository path");
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalBackend::full_path(const Handle& h) const {
  std::string rel = h.path();
  return root_ == "/" ? "/" + rel : root_ + "/" + rel;
}

std::string LocalBackend::dir_path(std::string_view rel) const {
  return root_ == "/" ? "/" + std::string(rel) : root_ + "/" + std::string(rel);
}

void LocalBackend::create() {
  // mkdir -p root, remembering which directories gained an entry.
  std::vector<std::string> to_sync;
  for (size_t pos = 1; pos <= root_.size(); ++pos) {
    if (pos < root_.size() && root_[pos] != '/') continue;
    std::string prefix = root_.substr(0, pos);
    if (make_dir(prefix)) to_sync.push_back(parent_of(prefix));
  }

  const std::string config = full_path(Handle{ObjectType::kConfig, "config"});
  struct stat st;
  if (::lstat(config.c_str(), &st) == 0) {
    throw Error(ErrorCode::kAlreadyExists,
                "a repository already exists at " + root_ + " (found " + config +
                    "); open it, or choose another location for a new one");
  }
  // Refuse to scatter a repository among unrelated files (init --repo /home).
  if (auto foreign = first_foreign_entry(root_)) {
    throw Error(ErrorCode::kAlreadyExists,
                "cannot create a repository in " + root_ + ": it is not empty (found '" +
                    *foreign + "'); choose an empty or new directory");
  }

  static constexpr ObjectType kDirs[] = {ObjectType::kKey, ObjectType::kData, ObjectType::kIndex,
                                         ObjectType::kSnapshot, ObjectType::kLock};
  bool root_changed = false;
  for (ObjectType t : kDirs) root_changed |= make_dir(dir_path(object_type_dir(t)));
  const std::string data = dir_path("data");
  bool data_changed = false;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    char sub[3] = {kDigits[i >> 4], kDigits[i & 15], 0};
    data_changed |= make_dir(data + "/" + sub);
  }
  if (data_changed) fsync_dir(data);
  if (root_changed) fsync_dir(root_);
  // Deepest first, so each new directory is durable before its parent's entry.
  for (auto it = to_sync.rbegin(); it != to_sync.rend(); ++it) fsync_dir(*it);
}

void LocalBackend::save(const Handle& h, ByteView data) {
  const std::string path = full_path(h);
  const std::string dir = parent_of(path);

  std::string tmp;
  int fd = -1;
  bool made_dir = false;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = dir + "/.tmp-" + random_hex();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
    if (fd >= 0) break;
    int err = errno;
    if (err == EEXIST && attempt < 8) continue;
    if (err == ENOENT && h.type == ObjectType::kData && !made_dir) {
      // A layout from before create() made all 256 shards, or a damaged one.
      if (make_dir(dir)) fsync_dir(parent_of(dir));
      made_dir = true;
      continue;
    }
    if (err == ENOENT) {
      throw Error(ErrorCode::kNotFound, "saving " + path + ": directory " + dir +
                                            " does not exist; is there a repository at " +
                                            root_ + "?");
    }
    fail("saving " + path + ": creating a temporary file in " + dir, err);
  }

  Fd file(fd);
  bool tmp_exists = true;
  try {
    write_all(fd, data, path);
    if (::fsync(fd) != 0) fail("syncing " + path, errno);
    if (file.close() != 0) fail("closing " + path, errno);

    if (h.type == ObjectType::kLock) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) fail("saving " + path, errno);
      tmp_exists = false;
    } else {
      int err = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
      if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS) {
        // No hard links on this filesystem: an exclusive rename does the same.
        err = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0
                  ? 0
                  : errno;
        if (err == 0) tmp_exists = false;
        if (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS) {
          throw Error(ErrorCode::kIo,
                      "saving " + path +
                          ": the filesystem supports neither hard links nor exclusive renames, "
                          "which a repository needs so that no object is ever overwritten");
        }
      }
      if (err == EEXIST) {
        throw Error(ErrorCode::kAlreadyExists,
                    "object " + path + " already exists; repository objects are create-only");
      }
      if (err != 0) fail("saving " + path, err);
    }
  } catch (...) {
    if (tmp_exists) ::unlink(tmp.c_str());
    throw;
  }
  if (tmp_exists) ::unlink(tmp.c_str());  // the object lives on under its own name

  try {
    fsync_dir(dir);
  } catch (...) {
    // Not durable, so not saved: take it back rather than report a success
    // that a crash could undo.
    ::unlink(path.c_str());
    throw;
  }
}

Bytes LocalBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  const std::string path = full_path(h);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      throw Error(ErrorCode::kNotFound, "object " + path + " not found");
    }
    fail("opening " + path, err);
  }
  Fd file(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) fail("reading " + path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length != 0 && length > size - offset)) {
    throw Error(ErrorCode::kCorrupt,
                "short read: " + path + " has " + std::to_string(size) + " bytes, wanted " +
                    std::to_string(length == 0 ? size - std::min(offset, size) : length) +
                    " at offset " + std::to_string(offset));
  }
  if (length == 0) length = size - offset;

  Bytes out(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, std::min<uint64_t>(length - done, kMaxIo),
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("reading " + path, errno);
    }
    if (n == 0) {
      throw Error(ErrorCode::kCorrupt, "short read: " + path + " ended after " +
                                           std::to_string(offset + done) + " bytes");
    }
    done += static_cast<uint64_t>(n);
  }
  return out;
}

std::optional<uint64_t> LocalBackend::size(const Handle& h) {
  const std::string path = full_path(h);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    fail("reading the size of " + path, errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

void LocalBackend::remove(const Handle& h) {
  const std::string path = full_path(h);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;
    fail("removing " + path, errno);
  }
  fsync_dir(parent_of(path));
}

void LocalBackend::list(ObjectType type,
                        const std::function<void(std::string_view, uint64_t)>& fn) {
  if (type == ObjectType::kConfig) {
    if (auto n = size(Handle{ObjectType::kConfig, "config"})) fn("config", *n);
    return;
  }
  if (type != ObjectType::kData) {
    list_files(dir_path(object_type_dir(type)), fn);
    return;
  }
  // data/: every shard "00".."ff" that exists (older layouts may lack some).
  const std::string data = dir_path("data");
  std::vector<std::string> shards;
  {
    int fd = ::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return;
      fail("listing " + data, errno);
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      int err = errno;
      ::close(fd);
      fail("listing " + data, err);
    }
    Dir guard(d);
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        if (errno != 0) fail("listing " + data, errno);
        break;
      }
      if (std::strlen(e->d_name) == 2 && is_lower_hex(e->d_name[0]) &&
          is_lower_hex(e->d_name[1])) {
        shards.emplace_back(e->d_name);
      }
    }
  }
  for (const std::string& shard : shards) list_files(data + "/" + shard, fn);
}

}  // namespace lifeboat::backend
