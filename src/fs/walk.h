// Listing directories. Names are byte strings, not necessarily UTF-8.
#pragma once

#include <string>
#include <vector>

namespace lifeboat::fs {

// Names of the entries of directory `path` (without "." and ".."), sorted
// bytewise (the order trees are stored in). Throws lifeboat::Error naming the
// path if it cannot be opened or read.
std::vector<std::string> read_dir_names(const std::string& path);

}  // namespace lifeboat::fs
