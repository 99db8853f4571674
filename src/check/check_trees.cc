// The snapshot tree walk (every tree loads, every blob is locatable) and the
// attribution of damage to snapshots and paths.
//
// The walk (repo::walk_trees) visits each distinct tree once, however many
// snapshots share it, level by level on a pool. It does not remember which
// snapshots reach a tree: when something turns out lost (here or in
// read-data), attribute() walks the snapshots once more, descending only
// into trees that hold a loss and skipping every subtree already proven
// clean.
#include <algorithm>

#include "base/error.h"
#include "check/check_internal.h"
#include "repo/tree_walk.h"

namespace lifeboat::check::detail {

void Checker::note_unindexed(const Id& blob, const Id& pack) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = unindexed_problem_.try_emplace(pack, report_.problems.size());
  if (inserted)
    report_.problems.push_back(
        {"index", pack.hex(),
         "pack " + pack.hex() + " is in no index but holds blobs that snapshots need (restores "
         "read them from its trailer); run 'lifeboat repair index'",
         {}, {}, {}, {}, true});
  report_.problems[it->second].blobs.push_back(blob.hex());
  blame_locked(blob, it->second);
}

bool Checker::walk_one(const Id& tree_id, std::vector<Id>& subtrees, std::vector<Id>& blobs) {
  auto where = locate(tree_id);
  if (!where) {
    size_t p = add_problem({"tree", tree_id.hex(), "tree blob is not in the index or any pack", {}, {}, {}});
    std::lock_guard lock(mu_);
    blame_locked(tree_id, p);
    return false;
  }
  if (where->unindexed) note_unindexed(tree_id, where->loc.pack);
  repo::Tree tree;
  try {
    tree = load_tree(tree_id, where->loc);
  } catch (const Error& e) {
    size_t p = add_problem({"tree", tree_id.hex(), e.message(), {}, {}, {}});
    std::lock_guard lock(mu_);
    blame_locked(tree_id, p);
    return false;
  }
  for (const auto& node : tree.nodes) {
    if (node.type == repo::NodeType::kFile) {
      for (const auto& part : node.content)
        if (!part.is_hole()) blobs.push_back(part.blob);
    } else if (node.type == repo::NodeType::kDir && !node.subtree.is_zero()) {
      subtrees.push_back(node.subtree);
    }
  }
  return true;
}

void Checker::walk_trees() {
  std::vector<repo::WalkItem> roots;
  for (const auto& [sid, snap] : snapshots_) roots.push_back({snap.tree, 0});

  std::mutex walk_mu;
  uint64_t trees_ok = 0;
  std::unordered_set<Id, IdHash> seen_blobs;
  std::vector<Id> new_blobs;  // found by the current level
  repo::TreeWalkOptions options;
  options.threads = threads();
  options.after_level = [&] {
    std::sort(new_blobs.begin(), new_blobs.end());
    for (const Id& b : new_blobs) {
      auto where = locate(b);
      if (!where) {
        size_t p = add_problem({"blob", b.hex(), "data blob is not in the index or any pack", {}, {}, {}});
        std::lock_guard lock(mu_);
        blame_locked(b, p);
      } else if (where->unindexed) {
        note_unindexed(b, where->loc.pack);
      }
    }
    new_blobs.clear();
  };
  repo::walk_trees(
      roots,
      [&](const repo::WalkItem& item, std::vector<Id>& subtrees) {
        std::vector<Id> blobs;
        bool ok = walk_one(item.tree, subtrees, blobs);
        std::lock_guard lock(walk_mu);
        trees_ok += ok;
        for (const Id& b : blobs)
          if (seen_blobs.insert(b).second) new_blobs.push_back(b);
      },
      options);
  report_.trees = trees_ok;
  report_.blobs = seen_blobs.size();
}

void Checker::blame_path(const Id& id, const Id& sid, const std::string& path) {
  auto it = culprits_.find(id);
  if (it == culprits_.end()) return;
  for (size_t p : it->second) {
    report_.problems[p].snapshots.push_back(sid.hex());
    report_.problems[p].files.push_back(sid.short_hex() + ":" + path);
  }
}

bool Checker::attribute_tree(const Id& tree_id, const std::string& dir, bool top, const Id& sid,
                             std::unordered_map<Id, bool, IdHash>& clean) {
  bool lossy = false;
  if (culprits_.count(tree_id)) {
    blame_path(tree_id, sid, dir == "/" ? dir : dir + "/");
    lossy = true;
  } else if (auto memo = clean.find(tree_id); memo != clean.end() && memo->second) {
    return false;
  }
  // A tree that is merely unindexed still loads: look below it too.
  auto where = locate(tree_id);
  if (!where) return lossy;
  repo::Tree tree;
  try {
    tree = load_tree(tree_id, where->loc);
  } catch (const Error&) {
    return lossy;
  }
  for (const auto& node : tree.nodes) {
    // The top tree holds one directory "." whose tree is the snapshot root.
    const std::string path = top && node.name == "." ? "/" : join_path(dir, node.name);
    if (node.type == repo::NodeType::kFile) {
      for (const auto& part : node.content) {
        if (part.is_hole() || !culprits_.count(part.blob)) continue;
        blame_path(part.blob, sid, path);
        lossy = true;
      }
    } else if (node.type == repo::NodeType::kDir && !node.subtree.is_zero()) {
      lossy |= attribute_tree(node.subtree, path, false, sid, clean);
    }
  }
  clean[tree_id] = !lossy;
  return lossy;
}

void Checker::attribute() {
  std::unordered_map<Id, bool, IdHash> clean;
  for (const auto& [sid, snap] : snapshots_) attribute_tree(snap.tree, "/", true, sid, clean);
}

}  // namespace lifeboat::check::detail
