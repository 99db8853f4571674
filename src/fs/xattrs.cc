#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

#include "base/error.h"
#include "fs/metadata.h"

namespace lifeboat::fs {
namespace {

bool unsupported(int err) { return err == ENOTSUP || err == EOPNOTSUPP; }

// The NUL-separated list of attribute names; empty if unsupported. The list
// can grow between the size query and the read (ERANGE): ask again.
std::string list_names(const std::string& path) {
  for (;;) {
    ssize_t size = llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) {
      if (unsupported(errno)) return {};
      throw_errno("list extended attributes of " + path);
    }
    if (size == 0) return {};
    std::string names(static_cast<size_t>(size), '\0');
    ssize_t n = llistxattr(path.c_str(), names.data(), names.size());
    if (n < 0) {
      if (errno == ERANGE) continue;
      if (unsupported(errno)) return {};
      throw_errno("list extended attributes of " + path);
    }
    names.resize(static_cast<size_t>(n));
    return names;
  }
}

// False if the attribute disappeared since it was listed.
bool read_value(const std::string& path, const std::string& name, std::string* value) {
  for (;;) {
    ssize_t size = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENODATA || unsupported(errno)) return false;
      throw_errno("read extended attribute " + name + " of " + path);
    }
    value->assign(static_cast<size_t>(size), '\0');
    if (size == 0) return true;
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), value->data(), value->size());
    if (n < 0) {
      if (errno == ERANGE) continue;
      if (errno == ENODATA || unsupported(errno)) return false;
      throw_errno("read extended attribute " + name + " of " + path);
    }
    value->resize(static_cast<size_t>(n));
    return true;
  }
}

}  // namespace

std::vector<repo::Xattr> read_xattrs(const std::string& path) {
  std::string names = list_names(path);
  std::vector<repo::Xattr> xattrs;
  size_t pos = 0;
  while (pos < names.size()) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    if (end > pos) {
      repo::Xattr x;
      x.name = names.substr(pos, end - pos);
      if (read_value(path, x.name, &x.value)) xattrs.push_back(std::move(x));
    }
    pos = end + 1;
  }
  std::sort(xattrs.begin(), xattrs.end(),
            [](const repo::Xattr& a, const repo::Xattr& b) { return a.name < b.name; });
  return xattrs;
}

}  // namespace lifeboat::fs
