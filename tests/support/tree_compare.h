// Compares two directory trees for restore fidelity, byte for byte and bit
// for bit, and says in plain words what differs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lifeboat::test {

struct CompareOptions {
  bool owners = true;        // uid/gid
  bool atime = false;        // ctime is never compared (it cannot be restored)
  bool xattrs = true;
  bool root_metadata = true;  // mode/owner/times of the two roots themselves
  // Report when `actual` allocates more than the expected file's blocks plus
  // this slack: holes that were written as data.
  bool sparseness = true;
  uint64_t sparse_slack_bytes = 1 << 20;
  size_t max_differences = 200;  // stop looking after this many
};

// Returns human-readable differences between the trees at `expected` and
// `actual`, one per line-free string, each naming the relative path (bytes
// outside printable ASCII escaped as \xNN); empty means identical. Compares,
// recursively: the set of names (byte-exact), type, mode (07777), uid/gid,
// mtime (ns; all types, directories included), size, content (streamed; for
// sparse files only the union of both files' data extents is read), block
// allocation, symlink targets, xattrs, device numbers, and hard-link
// structure (entries sharing an inode in one tree share one in the other).
// Throws lifeboat::Error if a root cannot be read.
std::vector<std::string> compare_trees(const std::string& expected, const std::string& actual,
                                       const CompareOptions& opts = {});

// `bytes` with non-printable bytes and backslashes escaped (\xNN, \\).
std::string printable(std::string_view bytes);

}  // namespace lifeboat::test
