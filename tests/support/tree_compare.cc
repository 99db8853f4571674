#include "support/tree_compare.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "base/error.h"
#include "fs/metadata.h"
#include "fs/walk.h"

namespace lifeboat::test {

std::string printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  return out;
}

namespace {

const char* type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFBLK: return "block device";
    case S_IFCHR: return "character device";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
  }
  return "unknown type";
}

std::string format_time(const struct timespec& ts) {
  return fmt::format("{}.{:09d}", static_cast<int64_t>(ts.tv_sec), static_cast<long>(ts.tv_nsec));
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

std::string read_link(const std::string& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) throw_errno("readlink " + path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// Reads exactly `len` bytes at `offset` unless the file ends first.
size_t read_full(int fd, char* buf, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

class Fd {
 public:
  explicit Fd(const std::string& path) {
    fd_ = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd_ < 0 && errno == EPERM) fd_ = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    err_ = fd_ < 0 ? errno : 0;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int error() const { return err_; }

 private:
  int fd_ = -1;
  int err_ = 0;
};

using Inode = std::pair<uint64_t, uint64_t>;  // (st_dev, st_ino)

std::vector<fs::Extent> union_of(const std::vector<fs::Extent>& a,
                                 const std::vector<fs::Extent>& b) {
  std::vector<fs::Extent> all(a);
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end(),
            [](const fs::Extent& x, const fs::Extent& y) { return x.offset < y.offset; });
  std::vector<fs::Extent> merged;
  for (const fs::Extent& e : all) {
    if (!merged.empty() && e.offset <= merged.back().offset + merged.back().length) {
      uint64_t end = std::max(merged.back().offset + merged.back().length, e.offset + e.length);
      merged.back().length = end - merged.back().offset;
    } else {
      merged.push_back(e);
    }
  }
  return merged;
}

class Comparer {
 public:
  Comparer(const std::string& expected, const std::string& actual, const CompareOptions& opts)
      : expected_root_(expected), actual_root_(actual), opts_(opts) {}

  std::vector<std::string> run() {
    struct stat se, sa;
    if (lstat(expected_root_.c_str(), &se) != 0) throw_errno("lstat " + expected_root_);
    if (lstat(actual_root_.c_str(), &sa) != 0) throw_errno("lstat " + actual_root_);
    compare_entry("", se, sa);
    return std::move(out_);
  }

 private:
  bool full() const { return out_.size() > opts_.max_differences; }

  void report(std::string_view rel, const std::string& what) {
    if (full()) return;
    if (out_.size() == opts_.max_differences) {
      out_.push_back("... stopped after " + std::to_string(opts_.max_differences) +
                     " differences");
      return;
    }
    out_.push_back((rel.empty() ? std::string(".") : printable(rel)) + ": " + what);
  }

  std::string join(const std::string& root, std::string_view rel) const {
    return rel.empty() ? root : root + "/" + std::string(rel);
  }

  void compare_dir(const std::string& rel) {
    std::vector<std::string> names_e, names_a;
    try {
      names_e = fs::read_dir_names(join(expected_root_, rel));
      names_a = fs::read_dir_names(join(actual_root_, rel));
    } catch (const Error& e) {
      report(rel, std::string("cannot list directory: ") + e.what());
      return;
    }
    size_t i = 0, j = 0;
    while ((i < names_e.size() || j < names_a.size()) && !full()) {
      if (j == names_a.size() || (i < names_e.size() && names_e[i] < names_a[j])) {
        report(child(rel, names_e[i++]), "only in expected");
      } else if (i == names_e.size() || names_a[j] < names_e[i]) {
        report(child(rel, names_a[j++]), "only in actual");
      } else {
        std::string c = child(rel, names_e[i]);
        ++i, ++j;
        struct stat se, sa;
        if (lstat(join(expected_root_, c).c_str(), &se) != 0) {
          report(c, std::string("cannot lstat in expected: ") + std::strerror(errno));
          continue;
        }
        if (lstat(join(actual_root_, c).c_str(), &sa) != 0) {
          report(c, std::string("cannot lstat in actual: ") + std::strerror(errno));
          continue;
        }
        compare_entry(c, se, sa);
      }
    }
  }

  static std::string child(const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
  }

  void compare_entry(const std::string& rel, const struct stat& se, const struct stat& sa) {
    if ((se.st_mode & S_IFMT) != (sa.st_mode & S_IFMT)) {
      report(rel, fmt::format("type differs: expected {}, actual {}", type_name(se.st_mode),
                              type_name(sa.st_mode)));
      return;
    }
    bool is_dir = S_ISDIR(se.st_mode);
    if (!rel.empty() || opts_.root_metadata) compare_metadata(rel, se, sa);
    if (is_dir) {
      compare_dir(rel);
      return;
    }
    bool content_done = track_links(rel, se, sa);
    if (S_ISREG(se.st_mode)) {
      if (se.st_size != sa.st_size) {
        report(rel, fmt::format("size differs: expected {}, actual {}",
                                static_cast<int64_t>(se.st_size), static_cast<int64_t>(sa.st_size)));
      } else if (!content_done) {
        compare_content(rel, static_cast<uint64_t>(se.st_size));
      }
      if (opts_.sparseness) {
        uint64_t alloc_e = static_cast<uint64_t>(se.st_blocks) * 512;
        uint64_t alloc_a = static_cast<uint64_t>(sa.st_blocks) * 512;
        if (alloc_a > alloc_e + opts_.sparse_slack_bytes) {
          report(rel, fmt::format("allocates {} bytes, expected {}: holes became data", alloc_a,
                                  alloc_e));
        }
      }
    } else if (S_ISLNK(se.st_mode)) {
      std::string te = read_link(join(expected_root_, rel));
      std::string ta = read_link(join(actual_root_, rel));
      if (te != ta) {
        report(rel, "symlink target differs: expected \"" + printable(te) + "\", actual \"" +
                        printable(ta) + "\"");
      }
    } else if (S_ISBLK(se.st_mode) || S_ISCHR(se.st_mode)) {
      if (se.st_rdev != sa.st_rdev) {
        report(rel, fmt::format("device number differs: expected {}:{}, actual {}:{}",
                                major(se.st_rdev), minor(se.st_rdev), major(sa.st_rdev),
                                minor(sa.st_rdev)));
      }
    }
  }

  void compare_metadata(const std::string& rel, const struct stat& se, const struct stat& sa) {
    if ((se.st_mode & 07777) != (sa.st_mode & 07777)) {
      report(rel, fmt::format("mode differs: expected {:04o}, actual {:04o}", se.st_mode & 07777,
                              sa.st_mode & 07777));
    }
    if (opts_.owners && (se.st_uid != sa.st_uid || se.st_gid != sa.st_gid)) {
      report(rel, fmt::format("owner differs: expected {}:{}, actual {}:{}", se.st_uid,
                              se.st_gid, sa.st_uid, sa.st_gid));
    }
    if (!same_time(se.st_mtim, sa.st_mtim)) {
      report(rel, "mtime differs: expected " + format_time(se.st_mtim) + ", actual " +
                      format_time(sa.st_mtim));
    }
    if (opts_.atime && !same_time(se.st_atim, sa.st_atim)) {
      report(rel, "atime differs: expected " + format_time(se.st_atim) + ", actual " +
                      format_time(sa.st_atim));
    }
    if (opts_.xattrs) compare_xattrs(rel);
  }

  void compare_xattrs(const std::string& rel) {
    std::vector<repo::Xattr> xe, xa;
    try {
      xe = fs::read_xattrs(join(expected_root_, rel));
      xa = fs::read_xattrs(join(actual_root_, rel));
    } catch (const Error& e) {
      report(rel, std::string("cannot read xattrs: ") + e.what());
      return;
    }
    if (xe == xa) return;
    std::map<std::string, std::string> me, ma;
    for (auto& x : xe) me[x.name] = x.value;
    for (auto& x : xa) ma[x.name] = x.value;
    for (auto& [name, value] : me) {
      auto it = ma.find(name);
      if (it == ma.end()) {
        report(rel, "xattr " + printable(name) + " missing in actual");
      } else if (it->second != value) {
        report(rel, fmt::format("xattr {} differs: expected {} bytes \"{}\", actual {} bytes \"{}\"",
                                printable(name), value.size(), printable(value.substr(0, 32)),
                                it->second.size(), printable(it->second.substr(0, 32))));
      }
    }
    for (auto& [name, value] : ma) {
      if (!me.contains(name)) report(rel, "xattr " + printable(name) + " only in actual");
    }
  }

  // Checks that inodes shared in one tree are shared in the other. Returns
  // true if this pair of inodes was already content-compared.
  bool track_links(const std::string& rel, const struct stat& se, const struct stat& sa) {
    if (se.st_nlink <= 1 && sa.st_nlink <= 1) return false;
    Inode ie{se.st_dev, se.st_ino}, ia{sa.st_dev, sa.st_ino};
    auto [it_e, new_e] = expected_to_actual_.try_emplace(ie, ia, rel);
    if (!new_e && it_e->second.first != ia) {
      report(rel, "is a hard link to " + printable(it_e->second.second) +
                      " in expected, but not in actual (hard link broken)");
    }
    auto [it_a, new_a] = actual_to_expected_.try_emplace(ia, ie, rel);
    if (!new_a && it_a->second.first != ie) {
      report(rel, "is a hard link to " + printable(it_a->second.second) +
                      " in actual, but not in expected (extra hard link)");
    }
    return !compared_.insert({ie, ia}).second;
  }

  void compare_content(const std::string& rel, uint64_t size) {
    if (size == 0) return;
    Fd fe(join(expected_root_, rel)), fa(join(actual_root_, rel));
    if (fe.get() < 0 || fa.get() < 0) {
      report(rel, std::string("cannot open to compare content: ") +
                      std::strerror(fe.get() < 0 ? fe.error() : fa.error()));
      return;
    }
    try {
      // Where both files are holes both read as zeros: only the union of
      // their data extents needs reading.
      auto ranges = union_of(fs::data_extents(fe.get(), size), fs::data_extents(fa.get(), size));
      constexpr size_t kBuf = 1 << 20;
      std::string be(std::min<uint64_t>(kBuf, size), '\0'), ba(be.size(), '\0');
      for (const fs::Extent& r : ranges) {
        for (uint64_t off = r.offset; off < r.offset + r.length;) {
          size_t want = static_cast<size_t>(std::min<uint64_t>(be.size(), r.offset + r.length - off));
          size_t ne = read_full(fe.get(), be.data(), want, off);
          size_t na = read_full(fa.get(), ba.data(), want, off);
          if (ne != want || na != want) {
            report(rel, fmt::format("short read at byte {} (file changed while comparing?)", off));
            return;
          }
          if (std::memcmp(be.data(), ba.data(), want) != 0) {
            size_t k = 0;
            while (be[k] == ba[k]) ++k;
            report(rel, fmt::format("content differs at byte {}", off + k));
            return;
          }
          off += want;
        }
      }
    } catch (const Error& e) {
      report(rel, std::string("cannot compare content: ") + e.what());
    }
  }

  std::string expected_root_;
  std::string actual_root_;
  CompareOptions opts_;
  std::vector<std::string> out_;
  std::map<Inode, std::pair<Inode, std::string>> expected_to_actual_;
  std::map<Inode, std::pair<Inode, std::string>> actual_to_expected_;
  std::set<std::pair<Inode, Inode>> compared_;
};

}  // namespace

std::vector<std::string> compare_trees(const std::string& expected, const std::string& actual,
                                       const CompareOptions& opts) {
  return Comparer(expected, actual, opts).run();
}

}  // namespace lifeboat::test
