// Reading a snapshot back in tests: an entry by path, a file's content.
// Header-only: the support library does not link repo/.
#pragma once

#include <optional>
#include <string>

#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::test {

// The node at slash-separated `path` below the snapshot's root ("" is the
// root itself), or nullopt.
inline std::optional<repo::Node> lookup(const repo::Repository& repo, const repo::Snapshot& s,
                                        const std::string& path) {
  repo::Tree t = repo.load_tree(s.tree);
  repo::Node cur = t.nodes.at(0);
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    std::string part = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? path.size() : slash + 1;
    repo::Tree sub = repo.load_tree(cur.subtree);
    bool found = false;
    for (auto& n : sub.nodes)
      if (n.name == part) {
        cur = n;
        found = true;
      }
    if (!found) return std::nullopt;
  }
  return cur;
}

// A file node's content, holes as zeros.
inline std::string read_content(const repo::Repository& repo, const repo::Node& file) {
  std::string out;
  for (const auto& part : file.content) {
    if (part.is_hole()) {
      out.append(part.length, '\0');
      continue;
    }
    Bytes b = repo.load_blob(repo::BlobType::kData, part.blob);
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  return out;
}

}  // namespace lifeboat::test
