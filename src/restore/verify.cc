#include "restore/verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/hex.h"

namespace lifeboat::restore {
namespace {

using repo::NodeType;

int64_t mtime_ns(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

void add(std::string& out, const std::string& what) {
  if (!out.empty()) out += ", ";
  out += what;
}

// Differences in the metadata a restore applies: mode (not for symlinks),
// owner (when restored), modification time.
std::string meta_diff(const struct stat& st, uint32_t mode, uint32_t uid, uint32_t gid,
                      int64_t mtime, bool check_mode, bool check_owner) {
  std::string out;
  if (check_mode && (st.st_mode & 07777) != (mode & 07777))
    add(out, "mode " + octal(st.st_mode) + ", snapshot " + octal(mode));
  if (check_owner && (st.st_uid != uid || st.st_gid != gid))
    add(out, "owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                 ", snapshot " + std::to_string(uid) + ":" + std::to_string(gid));
  if (mtime_ns(st) != mtime)
    add(out, "modification time " + std::to_string(mtime_ns(st)) + " ns, snapshot " +
                 std::to_string(mtime) + " ns");
  return out;
}

// Every xattr the snapshot recorded is there with its value (the target's
// file system may add its own, e.g. security labels: not a difference).
std::string xattr_diff(int dir_fd, const std::string& name, const std::string& full_path,
                       const std::vector<repo::Xattr>& expected) {
  if (expected.empty()) return "";
  std::vector<repo::Xattr> found;
  with_path_at(dir_fd, name, full_path,
               [&](const std::string& p) { found = fs::read_xattrs(p); });
  std::string out;
  for (const repo::Xattr& x : expected) {
    auto it = std::find_if(found.begin(), found.end(),
                           [&](const repo::Xattr& y) { return y.name == x.name; });
    if (it == found.end())
      add(out, "xattr " + x.name + " missing");
    else if (it->value != x.value)
      add(out, "xattr " + x.name + " has a different value");
  }
  return out;
}

// Reads [from, to) of `fd` and says whether it is all zeros, skipping holes.
bool reads_as_zeros(int fd, uint64_t from, uint64_t to, Bytes& buf) {
  uint64_t pos = from;
  while (pos < to) {
    uint64_t end = to;
    off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) return true;  // only a hole from here on
    if (data >= 0) {
      if (static_cast<uint64_t>(data) >= to) return true;
      pos = static_cast<uint64_t>(data);
      off_t hole = lseek(fd, data, SEEK_HOLE);
      if (hole >= 0) end = std::min<uint64_t>(to, static_cast<uint64_t>(hole));
    }
    while (pos < end) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
      ssize_t got = pread(fd, buf.data(), n, static_cast<off_t>(pos));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      if (!all_zero(ByteView(buf.data(), static_cast<size_t>(got)))) return false;
      pos += static_cast<uint64_t>(got);
    }
  }
  return true;
}

bool type_matches(const struct stat& st, NodeType type) {
  switch (type) {
    case NodeType::kSymlink: return S_ISLNK(st.st_mode);
    case NodeType::kFifo: return S_ISFIFO(st.st_mode);
    case NodeType::kSocket: return S_ISSOCK(st.st_mode);
    case NodeType::kBlockDevice: return S_ISBLK(st.st_mode);
    case NodeType::kCharDevice: return S_ISCHR(st.st_mode);
    case NodeType::kDir: return S_ISDIR(st.st_mode);
    case NodeType::kFile: return S_ISREG(st.st_mode);
  }
  return false;
}

}  // namespace

Verifier::Verifier(const repo::Repository& repo, const DirTable& dirs, DirFds& dir_fds,
                   const FileTable& files, const std::vector<BlobRef>& refs,
                   fs::ApplyOptions apply)
    : repo_(repo), dirs_(dirs), dir_fds_(dir_fds), files_(files), refs_(refs), apply_(apply) {}

std::string Verifier::check_file(uint32_t f) const {
  const PlannedFile& pf = files_.file(f);
  DirFd dir = dir_fds_.get(pf.dir);
  int fd = openat(dir->get(), pf.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::string("cannot be opened: ") + std::strerror(errno);
  OwnedFd owned(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return std::string("cannot be examined: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  const FileMeta& m = pf.meta;
  std::string out;
  if (static_cast<uint64_t>(st.st_size) != m.size)
    add(out, "size " + std::to_string(st.st_size) + ", snapshot " + std::to_string(m.size));
  add(out, meta_diff(st, m.mode, m.uid, m.gid, m.mtime_ns, true, apply_.restore_owner));
  if (apply_.restore_xattrs) add(out, xattr_diff(dir->get(), pf.name, files_.path(f), m.xattrs));
  if (!out.empty()) return out;  // content is not worth reading

  // Content: each part's keyed id, and zeros everywhere else.
  thread_local Bytes buf;
  auto first = std::lower_bound(refs_.begin(), refs_.end(), f,
                                [](const BlobRef& r, uint32_t file) { return r.file < file; });
  uint64_t pos = 0;
  for (auto it = first; it != refs_.end() && it->file == f; ++it) {
    if (buf.size() < std::max<size_t>(it->length, 1u << 20)) buf.resize(std::max<size_t>(it->length, 1u << 20));
    if (it->offset > pos && !reads_as_zeros(fd, pos, it->offset, buf))
      return "bytes " + std::to_string(pos) + ".." + std::to_string(it->offset) +
             " should be zeros (a hole) and are not";
    size_t done = 0;
    while (done < it->length) {
      ssize_t got = pread(fd, buf.data() + done, it->length - done,
                          static_cast<off_t>(it->offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return "cannot read " + std::to_string(it->length) + " bytes at offset " + std::to_string(it->offset);
      done += static_cast<size_t>(got);
    }
    if (repo_.hash(ByteView(buf.data(), it->length)) != it->blob)
      return std::to_string(it->length) + " bytes at offset " + std::to_string(it->offset) +
             " differ from blob " + it->blob.hex();
    pos = it->offset + it->length;
  }
  if (buf.size() < (1u << 20)) buf.resize(1u << 20);
  if (pos < m.size && !reads_as_zeros(fd, pos, m.size, buf))
    return "bytes " + std::to_string(pos) + ".." + std::to_string(m.size) +
           " should be zeros (a hole) and are not";
  return "";
}

uint64_t Verifier::files(uint32_t begin, uint32_t end, const MismatchFn& mismatch) const {
  uint64_t bad = 0;
  for (uint32_t f = begin; f < end; ++f) {
    if (files_.failed(f) || !files_.created(f)) continue;  // reported by the restore
    std::string why;
    try {
      why = check_file(f);
    } catch (const Error& e) {
      why = e.message();
    }
    if (why.empty()) continue;
    ++bad;
    mismatch(files_.path(f), why);
  }
  return bad;
}

uint64_t Verifier::links(const PlannedLink* begin, const PlannedLink* end,
                         const MismatchFn& mismatch) const {
  uint64_t bad = 0;
  for (const PlannedLink* l = begin; l != end; ++l) {
    if (files_.failed(l->file) || !files_.created(l->file)) continue;
    const PlannedFile& target = files_.file(l->file);
    struct stat a, b;
    std::string why;
    try {
      DirFd from = dir_fds_.get(target.dir);
      DirFd to = dir_fds_.get(l->dir);
      if (fstatat(to->get(), l->name.c_str(), &a, AT_SYMLINK_NOFOLLOW) != 0)
        why = std::string("is missing: ") + std::strerror(errno);
      else if (fstatat(from->get(), target.name.c_str(), &b, AT_SYMLINK_NOFOLLOW) != 0 ||
               a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        why = "is not a hard link to " + files_.path(l->file);
    } catch (const Error& e) {
      why = e.message();
    }
    if (why.empty()) continue;
    ++bad;
    mismatch(dirs_.path(l->dir, l->name), why);
  }
  return bad;
}

uint64_t Verifier::specials(const PlannedSpecial* begin, const PlannedSpecial* end,
                            const MismatchFn& mismatch) const {
  uint64_t bad = 0;
  for (const PlannedSpecial* s = begin; s != end; ++s) {
    const repo::Node& m = s->meta;
    const std::string path = dirs_.path(s->dir, s->name);
    std::string why;
    try {
      DirFd dir = dir_fds_.get(s->dir);
      struct stat st;
      if (fstatat(dir->get(), s->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        why = std::string("is missing: ") + std::strerror(errno);
      } else if (!type_matches(st, m.type)) {
        why = "has the wrong type";
      } else {
        const bool symlink = m.type == NodeType::kSymlink;
        if (symlink) {
          std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
          ssize_t n = readlinkat(dir->get(), s->name.c_str(), target.data(), target.size());
          if (n < 0 || static_cast<size_t>(n) != m.symlink_target.size() ||
              target.compare(0, static_cast<size_t>(n), m.symlink_target) != 0)
            add(why, "points elsewhere than the snapshot says");
        }
        if ((m.type == NodeType::kBlockDevice || m.type == NodeType::kCharDevice) &&
            st.st_rdev != m.rdev)
          add(why, "has another device number");
        add(why, meta_diff(st, m.mode, m.uid, m.gid, m.mtime_ns, !symlink, apply_.restore_owner));
        if (apply_.restore_xattrs) add(why, xattr_diff(dir->get(), s->name, path, m.xattrs));
      }
    } catch (const Error& e) {
      why = e.message();
    }
    if (why.empty()) continue;
    ++bad;
    mismatch(path, why);
  }
  return bad;
}

uint64_t Verifier::dirs(uint32_t begin, uint32_t end, const MismatchFn& mismatch) const {
  uint64_t bad = 0;
  for (uint32_t d = begin; d < end; ++d) {
    const DirEntry& e = dirs_[d];
    if (e.state != DirEntry::State::kCreated || !e.has_meta) continue;
    const std::string path = dirs_.path(d);
    std::string why;
    try {
      struct stat st;
      int rc;
      if (d == 0) {
        rc = fstatat(dir_fds_.get(0)->get(), "", &st, AT_EMPTY_PATH);
      } else {
        DirFd parent = dir_fds_.get(e.parent);
        rc = fstatat(parent->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
        if (rc == 0 && apply_.restore_xattrs)
          add(why, xattr_diff(parent->get(), e.name, path, e.meta.xattrs));
      }
      if (rc != 0)
        why = std::string("is missing: ") + std::strerror(errno);
      else if (!S_ISDIR(st.st_mode))
        why = "is not a directory";
      else
        add(why, meta_diff(st, e.meta.mode, e.meta.uid, e.meta.gid, e.meta.mtime_ns, true,
                           apply_.restore_owner));
    } catch (const Error& e2) {
      why = e2.message();
    }
    if (why.empty()) continue;
    ++bad;
    mismatch(path, why);
  }
  return bad;
}

}  // namespace lifeboat::restore
