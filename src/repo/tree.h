// Trees: one blob per directory, listing its entries sorted by name (bytes).
//
// Names, symlink targets, user/group names and xattr names/values are byte
// strings held in std::string (not necessarily UTF-8). The binary encoding is
// specified in docs/FORMAT.md "Trees".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/id.h"

namespace lifeboat::repo {

enum class NodeType : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kBlockDevice = 4,
  kCharDevice = 5,
  kFifo = 6,
  kSocket = 7,
};

struct Xattr {
  std::string name;
  std::string value;
  bool operator==(const Xattr&) const = default;
};

// One piece of a file's content, in order. A zero blob id is a hole of
// `length` bytes (sparse file): nothing is stored and restore leaves it a hole.
struct ContentPart {
  Id blob;
  uint64_t length = 0;
  bool is_hole() const { return blob.is_zero(); }
  bool operator==(const ContentPart&) const = default;
};

struct Node {
  std::string name;
  NodeType type = NodeType::kFile;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string user;   // owner name at backup time, informational
  std::string group;
  int64_t mtime_ns = 0;
  int64_t atime_ns = 0;
  int64_t ctime_ns = 0;  // not restorable; used for change detection
  uint64_t size = 0;     // files: content length
  uint64_t device = 0;   // st_dev; with inode, the hard-link identity
  uint64_t inode = 0;
  uint64_t links = 1;    // st_nlink
  uint64_t rdev = 0;     // device nodes
  std::string symlink_target;
  std::vector<Xattr> xattrs;          // sorted by name
  std::vector<ContentPart> content;   // files
  Id subtree;                         // directories: id of their tree blob
  // Set when the file changed or could not be read completely during backup;
  // its content is what could be read.
  bool damaged = false;

  bool operator==(const Node&) const = default;
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name, names unique
};

// Throws Error(kInvalidArgument) if nodes are unsorted or names repeat.
Bytes encode_tree(const Tree& tree);
// Throws Error(kCorrupt) on any malformed input.
Tree decode_tree(ByteView data);

}  // namespace lifeboat::repo
