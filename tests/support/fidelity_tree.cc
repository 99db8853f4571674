#include "support/fidelity_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace lifeboat::test {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t k1999 = 929450096 * kSec + 123456789;   // 1999-06-15 12:34:56.123456789
constexpr int64_t k2030 = 1893456000 * kSec + 987654321;  // 2030-01-01 00:00:00.987654321
constexpr int64_t k1960 = -310406400 * kSec + 500000001;  // 1960-03-01 08:00:00.500000001
constexpr int64_t k2021 = 1609459200 * kSec;              // base of the seeded times

struct timespec to_timespec(int64_t ns) {
  int64_t sec = ns / kSec;
  int64_t rem = ns % kSec;
  if (rem < 0) {
    rem += kSec;
    --sec;
  }
  struct timespec ts{};
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(rem);
  return ts;
}

class Builder {
 public:
  Builder(const std::string& root, uint64_t seed, const FidelityOptions& opts)
      : root_(root), opts_(opts), rng_(seed), root_user_(geteuid() == 0) {}

  std::string path(std::string_view rel) const {
    return rel.empty() ? root_ : root_ + "/" + std::string(rel);
  }

  // mt19937_64's raw output is fixed by the standard (distributions are not),
  // so everything derives from it directly.
  uint64_t next() { return rng_(); }

  // A time in 2021, with nanoseconds.
  int64_t some_time() {
    return k2021 + static_cast<int64_t>(next() % (365 * 86400)) * kSec +
           static_cast<int64_t>(next() % kSec);
  }

  std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v = next();
      for (int b = 0; b < 8; ++b) out[i + b] = static_cast<char>(v >> (8 * b));
    }
    uint64_t v = next();
    for (; i < n; ++i, v >>= 8) out[i] = static_cast<char>(v);
    return out;
  }

  std::string text(size_t n) {
    static constexpr std::string_view kWords[] = {
        "GET", "POST", "/index.php", "/wp-admin/", "200", "404", "Mozilla/5.0", "HTTP/1.1",
        "account", "mailbox", "backup", "restore", "session", "cache", "lifeboat", "node"};
    std::string out;
    out.reserve(n + 64);
    uint64_t line = 0;
    while (out.size() < n) {
      out += std::to_string(line++);
      for (int w = 0; w < 8; ++w) {
        out += ' ';
        out += kWords[next() % std::size(kWords)];
      }
      out += '\n';
    }
    out.resize(n);
    return out;
  }

  // Directories get their mode and time in finish(), after their children.
  void dir(std::string_view rel, mode_t mode = 0755) { dir_at(rel, mode, some_time()); }
  void dir_at(std::string_view rel, mode_t mode, int64_t mtime_ns) {
    std::string p = path(rel);
    if (mkdir(p.c_str(), 0700) != 0 && !(rel.empty() && errno == EEXIST)) {
      throw_errno("mkdir " + p);
    }
    dirs_.push_back({std::string(rel), mode, mtime_ns});
  }

  void file(std::string_view rel, std::string_view data, mode_t mode = 0644) {
    file_at(rel, data, mode, some_time());
  }
  void file_at(std::string_view rel, std::string_view data, mode_t mode, int64_t mtime_ns) {
    std::string p = path(rel);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("create " + p);
    write_at(fd, p, 0, data);
    close(fd);
    chmod_or_throw(rel, mode);
    set_mtime(rel, mtime_ns);
  }

  void write_at(int fd, const std::string& p, uint64_t offset, std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        throw_errno("write " + p, err);
      }
      done += static_cast<size_t>(n);
    }
  }

  // A file of apparent size `size` with data only at the given places.
  struct Piece {
    uint64_t offset;
    std::string data;
  };
  void sparse_file(std::string_view rel, uint64_t size, const std::vector<Piece>& pieces) {
    std::string p = path(rel);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("create " + p);
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      close(fd);
      throw_errno("truncate " + p, err);
    }
    for (const Piece& piece : pieces) write_at(fd, p, piece.offset, piece.data);
    close(fd);
    chmod_or_throw(rel, 0640);
    set_mtime(rel, some_time());
  }

  void symlink_to(std::string_view rel, std::string_view target) {
    std::string p = path(rel);
    if (symlink(std::string(target).c_str(), p.c_str()) != 0) throw_errno("symlink " + p);
    set_mtime(rel, some_time());
  }

  void hardlink(std::string_view existing, std::string_view rel) {
    std::string from = path(existing), to = path(rel);
    if (link(from.c_str(), to.c_str()) != 0) throw_errno("link " + to);
  }

  void chmod_or_throw(std::string_view rel, mode_t mode) {
    std::string p = path(rel);
    if (chmod(p.c_str(), mode) != 0) throw_errno("chmod " + p);
  }

  void set_mtime(std::string_view rel, int64_t mtime_ns) {
    std::string p = path(rel);
    // atime a little after mtime, as if read once since; compare ignores it.
    struct timespec ts[2] = {to_timespec(mtime_ns + 3600 * kSec), to_timespec(mtime_ns)};
    if (utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
      throw_errno("set times of " + p);
    }
  }

  // Returns false (and stops trying) once the filesystem refuses user xattrs.
  bool xattr(std::string_view rel, const char* name, std::string_view value) {
    if (!xattrs_ok_) return false;
    std::string p = path(rel);
    if (lsetxattr(p.c_str(), name, value.data(), value.size(), 0) != 0) {
      if (errno == ENOTSUP || errno == EOPNOTSUPP || errno == EPERM) {
        xattrs_ok_ = false;
        return false;
      }
      throw_errno(std::string("setxattr ") + name + " on " + p);
    }
    return true;
  }

  // chown as root; false if this root cannot (e.g. uid not mapped in a user
  // namespace), in which case the caller skips the owner part.
  bool chown_to(std::string_view rel, uid_t uid, gid_t gid) {
    std::string p = path(rel);
    if (lchown(p.c_str(), uid, gid) != 0) {
      if (errno == EINVAL || errno == EPERM) return false;
      throw_errno("chown " + p);
    }
    return true;
  }

  bool device(std::string_view rel, mode_t type, unsigned major, unsigned minor, mode_t mode) {
    std::string p = path(rel);
    if (mknod(p.c_str(), type | 0600, makedev(major, minor)) != 0) {
      if (errno == EPERM) return false;  // no CAP_MKNOD in this container
      throw_errno("mknod " + p);
    }
    chmod_or_throw(rel, mode);
    set_mtime(rel, some_time());
    return true;
  }

  void finish() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      chmod_or_throw(it->rel, it->mode);
      set_mtime(it->rel, it->mtime_ns);
    }
  }

  bool root_user() const { return root_user_; }
  const FidelityOptions& opts() const { return opts_; }

 private:
  struct PendingDir {
    std::string rel;
    mode_t mode;
    int64_t mtime_ns;
  };
  std::string root_;
  FidelityOptions opts_;
  std::mt19937_64 rng_;
  bool root_user_;
  bool xattrs_ok_ = true;
  std::vector<PendingDir> dirs_;
};

void make_files(Builder& b) {
  b.dir("files");
  b.file("files/empty", "");
  b.file("files/one", "x");
  b.file("files/page", b.random_bytes(4096));
  b.file("files/page_minus_1", b.random_bytes(4095));
  b.file("files/page_plus_1", b.random_bytes(4097));
  b.file(fidelity_paths::kMibPlus17, b.random_bytes((1 << 20) + 17));
  if (b.opts().big_random_file) b.file("files/random_9m", b.random_bytes(9 << 20));
  b.file("files/access.log", b.text(300 << 10));
  b.file("files/zeros_not_sparse", std::string(200 << 10, '\0'));

  // The same content under different names in different directories.
  std::string shared = b.random_bytes(300 << 10);
  b.dir("dup");
  b.dir("dup/a");
  b.dir("dup/b");
  b.dir("dup/b/c");
  b.file("dup/a/shared.bin", shared);
  b.file("dup/b/shared.bin", shared);
  b.file("dup/b/c/copy of shared", shared, 0600);
  b.file("dup/b/empty_too", "");
}

void make_modes(Builder& b) {
  b.dir("modes");
  b.file(fidelity_paths::kMode0600, "private\n", 0600);
  b.file("modes/m0755", "#!/bin/sh\necho hi\n", 0755);
  b.file("modes/m0400_readonly", "read only\n", 0400);
  b.file("modes/m0644", "plain\n", 0644);
  b.file(fidelity_paths::kSetuid, b.random_bytes(100), 04755);
  b.file("modes/setgid_02755", b.random_bytes(100), 02755);
  b.dir("modes/shared_02775", 02775);
  b.file("modes/shared_02775/inside", "in a setgid dir\n", 0664);
  b.dir("modes/sticky_01777", 01777);
  b.file("modes/sticky_01777/tmpfile", "sticky\n", 0666);
  b.dir("modes/readonly_0555", 0555);  // children must exist before the mode
  b.file("modes/readonly_0555/inside", "in a read-only dir\n", 0444);
  b.dir("modes/private_0700", 0700);
}

void make_times(Builder& b) {
  b.dir("times");
  b.file_at(fidelity_paths::kOld1999, "old\n", 0644, k1999);
  b.file_at("times/future_2030", "future\n", 0644, k2030);
  b.file_at("times/before_1970", "older than the epoch\n", 0644, k1960);
  b.file_at("times/whole_second", "no nanoseconds\n", 0644, 1500000000 * kSec);
  b.dir_at("times/dir_1999", 0755, k1999 + 1);
  b.file("times/dir_1999/child", "child of an old dir\n");
  b.dir_at("times/dir_2030", 0755, k2030 - 1);
}

void make_symlinks(Builder& b) {
  b.dir("links");
  b.symlink_to(fidelity_paths::kRelativeLink, "../files/one");
  b.symlink_to("links/absolute", "/etc/passwd");
  b.symlink_to("links/dangling", "does/not/exist");
  b.symlink_to("links/to_dir", "../files");
  b.symlink_to("links/to_link", "relative");
  b.symlink_to(fidelity_paths::kBadUtf8Link, "\xff\xfe\x80 not utf-8 \xc3");
  std::string long_target;
  while (long_target.size() < 4000) long_target += "long/path/component/";
  long_target.resize(4000);
  b.symlink_to("links/long_target", long_target);
}

void make_hardlinks(Builder& b) {
  b.dir("hardlinks");
  b.dir("hardlinks/sub");
  b.file(fidelity_paths::kPairA, b.random_bytes(5000), 0640);
  b.hardlink(fidelity_paths::kPairA, fidelity_paths::kPairB);
  b.file(fidelity_paths::kTriple1, b.random_bytes(70000), 0644);
  b.hardlink(fidelity_paths::kTriple1, fidelity_paths::kTriple2);
  b.hardlink(fidelity_paths::kTriple1, fidelity_paths::kTriple3);
  b.file("hardlinks/empty_a", "", 0644);
  b.hardlink("hardlinks/empty_a", "hardlinks/sub/empty_b");
}

void make_sparse(Builder& b) {
  b.dir("sparse");
  uint64_t size = b.opts().big_sparse_bytes;
  if (size < (1 << 20)) {
    throw Error(ErrorCode::kInvalidArgument, "FidelityOptions.big_sparse_bytes must be >= 1 MiB");
  }
  constexpr uint64_t kAlign = 64 << 10;
  uint64_t quarter = size / 4 / kAlign * kAlign;
  uint64_t half = size / 2 / kAlign * kAlign;
  // Holes: [0, quarter), between the two pieces, and after the second to the end.
  b.sparse_file(fidelity_paths::kSparse, size,
                {{quarter, b.random_bytes(4096)}, {half, b.random_bytes(8192 + 123)}});
  b.sparse_file(fidelity_paths::kAllHole, 1 << 20, {});
  b.sparse_file("sparse/data_then_hole.bin", (1 << 20) + 1, {{0, b.random_bytes(4096)}});
  b.sparse_file("sparse/hole_then_data.bin", 2 << 20, {{(2 << 20) - 100, b.random_bytes(100)}});
}

void make_xattrs(Builder& b) {
  b.dir("xattrs");
  b.file(fidelity_paths::kXattrFile, "has xattrs\n");
  b.dir(fidelity_paths::kXattrDir);
  b.file("xattrs/no_xattrs", "none\n");
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  if (!b.xattr(fidelity_paths::kXattrFile, "user.binary", all_bytes)) return;
  b.xattr(fidelity_paths::kXattrFile, "user.empty", "");
  b.xattr(fidelity_paths::kXattrFile, "user.big", b.random_bytes(3000));
  b.xattr(fidelity_paths::kXattrFile, "user.a.text", "plain text");
  b.xattr(fidelity_paths::kXattrDir, "user.dir", std::string_view("\x00\xff\x01\x80", 4));
}

void make_names(Builder& b) {
  b.dir("names");
  b.file(fidelity_paths::kBadUtf8Name, "non-utf-8 name\n");
  b.file("names/with space", "space\n");
  b.file("names/with\nnewline", "newline\n");
  b.file("names/tab\there", "tab\n");
  b.file("names/back\\slash", "backslash\n");
  b.file("names/-starts-with-dash", "dash\n");
  b.file("names/.hidden", "dot\n");
  b.file("names/..two-dots", "dots\n");
  b.file("names/*?[glob]", "glob\n");
  b.file("names/utf8-\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac", "utf-8\n");
  b.file("names/" + std::string(255, 'L'), "255-byte name\n");
  std::string long_utf8 = "long-";
  while (long_utf8.size() + 2 <= 255) long_utf8 += "\xc3\xa9";
  b.file("names/" + long_utf8, "long utf-8 name\n");
  b.dir("names/\x80 dir \xfe");
  b.file("names/\x80 dir \xfe/\x01\x02\x7f", "control bytes\n");
}

void make_empty_and_deep(Builder& b) {
  b.dir("empty");
  b.dir("empty/nested");
  b.dir("empty/nested/deeper");
  b.dir("deep");
  std::string rel = "deep";
  for (int i = 1; i <= 40; ++i) {
    char part[8];
    std::snprintf(part, sizeof part, "/d%02d", i);
    rel += part;
    b.dir(rel);
  }
  b.file(rel + "/leaf.txt", "at depth 40\n");
}

void make_special(Builder& b) {
  b.dir("special");
  std::string p = b.path(fidelity_paths::kFifo);
  if (mkfifo(p.c_str(), 0600) != 0) throw_errno("mkfifo " + p);
  b.chmod_or_throw(fidelity_paths::kFifo, 0640);
  b.set_mtime(fidelity_paths::kFifo, b.some_time());
  p = b.path("special/socket");
  if (mknod(p.c_str(), S_IFSOCK | 0600, 0) != 0) throw_errno("mknod socket " + p);
  b.chmod_or_throw("special/socket", 0755);
  b.set_mtime("special/socket", b.some_time());
  if (b.root_user() && b.opts().owners_and_devices) {
    if (b.device(fidelity_paths::kCharDevice, S_IFCHR, 1, 3, 0666)) {
      b.device("special/block_b_7_200", S_IFBLK, 7, 200, 0660);
    }
  }
}

void make_owners(Builder& b) {
  if (!b.root_user() || !b.opts().owners_and_devices) return;
  b.dir("owners");
  b.file(fidelity_paths::kOwned1001, "owned by 1001:1002\n");
  if (!b.chown_to(fidelity_paths::kOwned1001, 1001, 1002)) return;  // uid not mapped here
  b.file("owners/nobody", "owned by 65534:65534\n");
  b.chown_to("owners/nobody", 65534, 65534);
  b.file("owners/mixed", "owned by 0:1002\n");
  b.chown_to("owners/mixed", 0, 1002);
  // chown clears setuid: the mode goes on after the owner.
  b.file("owners/setuid_1001", b.random_bytes(64));
  b.chown_to("owners/setuid_1001", 1001, 1002);
  b.chmod_or_throw("owners/setuid_1001", 06755);
  b.dir("owners/dir_1001", 0750);
  b.chown_to("owners/dir_1001", 1001, 1002);
  b.file("owners/dir_1001/root_owned", "root in a 1001 dir\n");
  b.symlink_to("owners/link_1001", "f1001");
  b.chown_to("owners/link_1001", 1001, 1002);
}

}  // namespace

void make_fidelity_tree(const std::string& root, uint64_t seed, const FidelityOptions& opts) {
  Builder b(root, seed, opts);
  b.dir("", 0755);
  make_files(b);
  make_modes(b);
  make_times(b);
  make_symlinks(b);
  make_hardlinks(b);
  make_sparse(b);
  make_xattrs(b);
  make_names(b);
  make_empty_and_deep(b);
  make_special(b);
  make_owners(b);
  b.finish();
}

}  // namespace lifeboat::test
