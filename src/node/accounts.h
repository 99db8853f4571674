// Which accounts a hosting node has: the directories directly under its
// root (e.g. /home), or the names listed in an accounts file, filtered by
// include/exclude globs on the account name.
#pragma once

#include <string>
#include <vector>

namespace lifeboat::node {

struct AccountFilter {
  // fnmatch globs on the account name. With includes, only names matching
  // one of them are kept; names matching an exclude are always dropped.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

bool account_selected(const std::string& name, const AccountFilter& filter);

// Each directory directly under `root`, sorted by name. Skipped: dot
// directories, symlinks, non-directories and "lost+found". Throws
// lifeboat::Error if `root` cannot be listed.
std::vector<std::string> discover_accounts(const std::string& root, const AccountFilter& filter);

// The names in an accounts file: one per line; blank lines and lines whose
// first non-blank character is '#' are ignored, surrounding blanks trimmed.
// Duplicates are dropped (first occurrence kept, order preserved). Throws
// Error(kInvalidArgument) for a name that is not a single path component,
// or the I/O error if the file cannot be read.
std::vector<std::string> read_accounts_file(const std::string& path, const AccountFilter& filter);

}  // namespace lifeboat::node
