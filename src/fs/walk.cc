#include "fs/walk.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/error.h"

namespace lifeboat::fs {

std::vector<std::string> read_dir_names(const std::string& path) {
  struct Closer {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, Closer> dir(opendir(path.c_str()));
  if (!dir) throw_errno("open directory " + path);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* entry = readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) throw_errno("read directory " + path);
      break;
    }
    const char* name = entry->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    names.emplace_back(name);
  }
  // std::string compares as unsigned char: bytewise order.
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lifeboat::fs
