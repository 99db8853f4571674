#include "node/accounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "base/error.h"

namespace lifeboat::node {

namespace {

bool matches_any(const std::string& name, const std::vector<std::string>& globs) {
  for (const auto& g : globs)
    if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

bool account_selected(const std::string& name, const AccountFilter& filter) {
  if (!filter.include.empty() && !matches_any(name, filter.include)) return false;
  return !matches_any(name, filter.exclude);
}

std::vector<std::string> discover_accounts(const std::string& root, const AccountFilter& filter) {
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) throw_errno("cannot list accounts under " + root);
  std::vector<std::string> names;
  int dfd = ::dirfd(dir);
  errno = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name == "lost+found") continue;
    struct stat st;
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    if (!S_ISDIR(st.st_mode)) continue;  // symlinks and files are not accounts
    if (account_selected(name, filter)) names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw_errno("cannot list accounts under " + root, err);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> read_accounts_file(const std::string& path, const AccountFilter& filter) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("cannot read accounts file " + path);
  std::vector<std::string> names;
  std::set<std::string> seen;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    std::string name = trim(line);
    if (name.empty() || name[0] == '#') continue;
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      throw Error(ErrorCode::kInvalidArgument,
                  "accounts file " + path + " line " + std::to_string(line_no) + ": '" + name +
                      "' is not an account name (one directory name per line)");
    if (!account_selected(name, filter) || !seen.insert(name).second) continue;
    names.push_back(std::move(name));
  }
  if (in.bad()) throw_errno("cannot read accounts file " + path);
  return names;
}

}  // namespace lifeboat::node
