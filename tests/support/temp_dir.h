// A scratch directory for a test, removed with everything in it on scope exit.
#pragma once

#include <string>
#include <string_view>

namespace lifeboat::test {

class TempDir {
 public:
  // Created under $TMPDIR (default /tmp) as <prefix>-XXXXXX. Throws
  // lifeboat::Error if it cannot be created.
  explicit TempDir(std::string_view prefix = "lifeboat-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name; name may contain slashes and arbitrary bytes.
  std::string sub(std::string_view name) const;

 private:
  std::string path_;
};

// Removes `path` and everything below it, first making directories writable
// (a tree may hold read-only directories). Errors are ignored.
void remove_tree(const std::string& path);

}  // namespace lifeboat::test
