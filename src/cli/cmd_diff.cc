// lifeboat diff: what changed between two snapshots, entry by entry.
//
// Trees are compared recursively; a directory whose subtree id is the same
// in both snapshots holds identical content and is not descended into, so a
// diff costs in proportion to what changed, not to the size of the trees.
#include <map>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

namespace {

enum class Change : char { kAdded = '+', kRemoved = '-', kModified = 'M', kMetadata = 'U' };

const char* change_name(Change c) {
  switch (c) {
    case Change::kAdded: return "added";
    case Change::kRemoved: return "removed";
    case Change::kModified: return "modified";
    case Change::kMetadata: return "metadata";
  }
  return "?";
}

// What restore reproduces besides content. Times other than mtime, inode
// numbers and link counts change without anyone changing the file.
bool same_metadata(const repo::Node& a, const repo::Node& b) {
  return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.user == b.user &&
         a.group == b.group && a.mtime_ns == b.mtime_ns && a.xattrs == b.xattrs &&
         a.rdev == b.rdev;
}

bool same_content(const repo::Node& a, const repo::Node& b) {
  switch (a.type) {
    case repo::NodeType::kFile: return a.size == b.size && a.content == b.content;
    case repo::NodeType::kSymlink: return a.symlink_target == b.symlink_target;
    default: return true;
  }
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

class Differ {
 public:
  Differ(const repo::Repository& repo, bool json) : repo_(repo), json_(json) {}

  void compare_roots(const repo::Node& a, const repo::Node& b) {
    if (!same_metadata(a, b)) report(Change::kMetadata, "/", b);
    if (a.subtree != b.subtree) compare_dirs("/", a.subtree, b.subtree);
  }

  void print_summary() const {
    if (json_) return;
    print_out(fmt::format("\n{} added, {} removed, {} modified, {} metadata only\n", added_,
                          removed_, modified_, metadata_));
  }

  Json json() const {
    return Json{{"changes", changes_},
                {"summary",
                 {{"added", added_},
                  {"removed", removed_},
                  {"modified", modified_},
                  {"metadata", metadata_}}}};
  }

 private:
  void compare_dirs(const std::string& dir, const Id& a_id, const Id& b_id) {
    repo::Tree a = repo_.load_tree(a_id);
    repo::Tree b = repo_.load_tree(b_id);
    // Byte order of names, whatever order the trees were written in.
    std::map<std::string, std::pair<const repo::Node*, const repo::Node*>> names;
    for (const auto& n : a.nodes) names[n.name].first = &n;
    for (const auto& n : b.nodes) names[n.name].second = &n;
    for (const auto& [name, pair] : names) {
      std::string path = child_path(dir, name);
      const repo::Node* x = pair.first;
      const repo::Node* y = pair.second;
      if (y == nullptr) {
        everything(Change::kRemoved, path, *x);
      } else if (x == nullptr) {
        everything(Change::kAdded, path, *y);
      } else if (x->type != y->type) {
        everything(Change::kRemoved, path, *x);
        everything(Change::kAdded, path, *y);
      } else {
        if (!same_content(*x, *y))
          report(Change::kModified, path, *y);
        else if (!same_metadata(*x, *y))
          report(Change::kMetadata, path, *y);
        if (x->type == repo::NodeType::kDir && x->subtree != y->subtree)
          compare_dirs(path, x->subtree, y->subtree);
      }
    }
  }

  // Reports `n` and, for a directory, everything below it.
  void everything(Change c, const std::string& path, const repo::Node& n) {
    report(c, path, n);
    if (n.type != repo::NodeType::kDir) return;
    repo::Tree tree = repo_.load_tree(n.subtree);
    for (const auto& child : tree.nodes) everything(c, child_path(path, child.name), child);
  }

  void report(Change c, const std::string& path, const repo::Node& n) {
    switch (c) {
      case Change::kAdded: ++added_; break;
      case Change::kRemoved: ++removed_; break;
      case Change::kModified: ++modified_; break;
      case Change::kMetadata: ++metadata_; break;
    }
    if (json_) {
      changes_.push_back(Json{{"path", json_bytes(path)},
                              {"change", change_name(c)},
                              {"type", node_type_name(n.type)}});
      return;
    }
    bool dir = n.type == repo::NodeType::kDir && path != "/";
    print_out(fmt::format("{} {}{}\n", static_cast<char>(c), printable(path), dir ? "/" : ""));
  }

  const repo::Repository& repo_;
  bool json_;
  Json changes_ = Json::array();
  uint64_t added_ = 0, removed_ = 0, modified_ = 0, metadata_ = 0;
};

}  // namespace

CommandRun setup_diff(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    std::string first;
    std::string second;
    std::string account;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("diff", "show what changed between two snapshots");
  cmd->add_option("snapshot1", f->first, "the older snapshot (id, prefix or 'latest')")->required();
  cmd->add_option("snapshot2", f->second, "the newer snapshot (id, prefix or 'latest')")->required();
  cmd->add_option("--account", f->account, "with 'latest': the newest snapshot of this account");

  return [f, &g]() -> int {
    auto repo = open_repository(g, true);
    auto [id1, s1] = repo->find_snapshot(f->first, f->account);
    auto [id2, s2] = repo->find_snapshot(f->second, f->account);
    repo::Node root1 = find_snapshot_node(*repo, id1, s1, "");
    repo::Node root2 = find_snapshot_node(*repo, id2, s2, "");
    if (!g.json && g.verbose)
      print_out(fmt::format("comparing snapshot {} with snapshot {}\n", id1.short_hex(),
                            id2.short_hex()));
    Differ differ(*repo, g.json);
    differ.compare_roots(root1, root2);
    if (g.json) {
      Json out{{"snapshot1", id1.hex()}, {"snapshot2", id2.hex()}};
      Json body = differ.json();
      out["changes"] = body["changes"];
      out["summary"] = body["summary"];
      print_json(out);
    } else if (!g.quiet) {
      differ.print_summary();
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
