#include "support/temp_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "base/error.h"

namespace lifeboat::test {

TempDir::TempDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::string tmpl = base + "/" + std::string(prefix) + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw_errno("create temporary directory " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() { remove_tree(path_); }

std::string TempDir::sub(std::string_view name) const { return path_ + "/" + std::string(name); }

void remove_tree(const std::string& path) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path.c_str(), 0700);
    for (auto it = stdfs::recursive_directory_iterator(path, ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) chmod(it->path().c_str(), 0700);
    }
  }
  stdfs::remove_all(path, ec);
}

}  // namespace lifeboat::test
