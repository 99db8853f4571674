#include "repo/snapshot_repair.h"

#include <map>
#include <unordered_set>

#include "base/clock.h"
#include "base/error.h"
#include "repo/tree_walk.h"

namespace lifeboat::repo {
namespace {

// Rewrites trees bottom-up, replacing what cannot be read. Each distinct
// tree is examined once (a CMS core in many accounts, a snapshot's parent):
// the result and the damaged paths below it are kept by tree id.
class TreeSalvage {
 public:
  TreeSalvage(Repository& repo, bool read_data) : repo_(repo), read_data_(read_data) {}

  struct Outcome {
    Id id;                                // the tree to use (the same id if intact)
    std::vector<std::string> damaged;     // relative to the tree's directory
  };

  // Throws Error if the tree itself cannot be read.
  const Outcome& salvage(const Id& tree_id) {
    if (auto it = done_.find(tree_id); it != done_.end()) return it->second;
    Tree tree = repo_.load_tree(tree_id);
    Outcome out;
    bool changed = false;
    for (Node& node : tree.nodes) {
      if (node.type == NodeType::kDir && !node.subtree.is_zero()) {
        try {
          const Outcome& sub = salvage(node.subtree);
          for (const auto& p : sub.damaged) out.damaged.push_back(node.name + "/" + p);
          if (sub.id != node.subtree) {
            node.subtree = sub.id;
            changed = true;
          }
        } catch (const Error&) {
          node.subtree = empty_tree();
          node.damaged = true;
          out.damaged.push_back(node.name + "/");
          changed = true;
        }
      } else if (node.type == NodeType::kFile) {
        bool lost = false;
        for (ContentPart& part : node.content) {
          if (part.is_hole() || readable(part.blob)) continue;
          part.blob = Id{};  // a hole of the same length: sizes and offsets stay right
          lost = true;
        }
        if (lost) {
          node.damaged = true;
          out.damaged.push_back(node.name);
          changed = true;
        }
      }
    }
    out.id = changed ? repo_.save_tree(tree) : tree_id;
    return done_.emplace(tree_id, std::move(out)).first->second;
  }

 private:
  // Located, in a pack that exists (the index may name a pack that is gone),
  // and with read_data also loaded and verified.
  bool readable(const Id& blob) {
    if (auto it = blobs_.find(blob); it != blobs_.end()) return it->second;
    auto loc = repo_.locate(blob);
    if (loc && !pack_exists(loc->pack))  // the index is stale: is there a copy elsewhere?
      loc = repo_.relocate(blob, *loc,
                           Error(ErrorCode::kNotFound, "pack " + loc->pack.hex() + " is gone"));
    bool ok = loc && pack_exists(loc->pack);
    if (ok && read_data_) {
      try {
        repo_.load_blob(BlobType::kData, blob);
      } catch (const Error&) {
        ok = false;
      }
    }
    return blobs_.emplace(blob, ok).first->second;
  }
  bool pack_exists(const Id& pack) {
    if (auto it = packs_.find(pack); it != packs_.end()) return it->second;
    bool exists = repo_.backend().size({backend::ObjectType::kData, pack.hex()}).has_value();
    return packs_.emplace(pack, exists).first->second;
  }
  Id empty_tree() {
    if (!empty_) empty_ = repo_.save_tree(Tree{});
    return *empty_;
  }

  Repository& repo_;
  const bool read_data_;
  std::map<Id, Outcome> done_;
  std::map<Id, bool> blobs_;
  std::map<Id, bool> packs_;
  std::optional<Id> empty_;
};

}  // namespace

SnapshotRepairResult repair_snapshots(Repository& repo, const SnapshotRepairOptions& options) {
  SnapshotRepairResult result;
  // The index must not vouch for blobs whose pack is gone: an empty tree
  // written for a lost directory may be exactly such a blob, and must then
  // be stored again rather than named.
  repo.forget_missing_packs();
  const auto snapshots = repo.list_snapshots();
  TreeSalvage salvage(repo, options.read_data);
  // Repairs an earlier run wrote (it may have been killed before forgetting
  // the original): reused, so a rerun finishes the job instead of writing
  // a second copy.
  std::map<std::string, Id> earlier;
  for (const auto& [id, snap] : snapshots)
    for (const auto& tag : snap.tags)
      if (tag.rfind("repaired-from:", 0) == 0) earlier.emplace(tag, id);
  size_t done = 0;
  if (options.on_progress) options.on_progress(0, snapshots.size());
  for (const auto& [id, snap] : snapshots) {
    RepairedSnapshot r;
    r.original = id;
    r.node = snap.node;
    r.account = snap.account;
    Id new_top;
    try {
      const TreeSalvage::Outcome& top = salvage.salvage(snap.tree);
      new_top = top.id;
      // The top tree's one node is "." (the root): strip it from paths.
      for (const auto& p : top.damaged) r.damaged.push_back(p.rfind("./", 0) == 0 ? p.substr(1) : "/" + p);
    } catch (const Error&) {
      // Not even the top tree: the snapshot keeps nothing readable.
      new_top = repo.save_tree(Tree{});
      r.damaged.push_back("/");
    }
    const std::string from_tag = "repaired-from:" + id.hex().substr(0, 16);
    if (new_top != snap.tree && earlier.count(from_tag)) {
      r.repaired = earlier.at(from_tag);
      ++result.repaired;
      if (options.forget) {
        repo.backend().remove({backend::ObjectType::kSnapshot, id.hex()});
        r.forgotten = true;
      }
    } else if (new_top != snap.tree) {
      Snapshot fixed = snap;
      fixed.tree = new_top;
      fixed.partial = true;
      fixed.error_paths.insert(fixed.error_paths.end(), r.damaged.begin(), r.damaged.end());
      fixed.tags.push_back("repaired");
      fixed.tags.push_back(from_tag);
      repo.flush();  // law 2: the new trees are durable before the snapshot
      r.repaired = repo.save_snapshot(fixed);
      ++result.repaired;
      if (options.forget) {
        repo.backend().remove({backend::ObjectType::kSnapshot, id.hex()});
        r.forgotten = true;
      }
    } else {
      ++result.intact;
    }
    result.snapshots.push_back(std::move(r));
    if (options.on_progress) options.on_progress(++done, snapshots.size());
  }
  return result;
}

OrphanRecovery recover_orphans(Repository& repo) {
  OrphanRecovery out;
  repo.forget_missing_packs();  // what it writes must not lean on gone packs
  repo.index_unlisted_packs();  // trees in packs no segment lists count too
  std::unordered_set<Id, IdHash> trees;
  repo.index().for_each([&](const BlobLocation& loc) {
    if (loc.entry.type == BlobType::kTree) trees.insert(loc.entry.id);
  });
  for (const PackInfo& p : repo.recovered_packs())
    for (const PackEntry& e : p.entries)
      if (e.type == BlobType::kTree) trees.insert(e.id);

  // Everything the readable snapshots reach.
  std::vector<WalkItem> roots;
  for (const auto& [id, snap] : repo.list_snapshots()) roots.push_back({snap.tree, 0});
  auto subtrees_of = [&repo](const Id& id, std::vector<Id>& subtrees) {
    try {
      for (const Node& n : repo.load_tree(id).nodes)
        if (n.type == NodeType::kDir && !n.subtree.is_zero()) subtrees.push_back(n.subtree);
    } catch (const Error&) {
      // Unreadable: what is below it cannot be told from here.
    }
  };
  auto reached = walk_trees(roots, [&](const WalkItem& item, std::vector<Id>& subtrees) {
    subtrees_of(item.tree, subtrees);
  });

  std::vector<Id> orphans;
  for (const Id& t : trees)
    if (!reached.count(t)) orphans.push_back(t);
  // Roots: orphans no other orphan has as a subtree.
  std::unordered_set<Id, IdHash> below;
  {
    std::vector<Id> subtrees;
    for (const Id& t : orphans) {
      subtrees.clear();
      subtrees_of(t, subtrees);
      below.insert(subtrees.begin(), subtrees.end());
    }
  }
  Tree dir;
  const int64_t now = now_unix_nanos();
  for (const Id& t : orphans) {
    if (below.count(t)) continue;
    Id root = t;
    Node entry;
    entry.type = NodeType::kDir;
    entry.mode = 0700;
    entry.mtime_ns = entry.atime_ns = now;
    try {
      // A snapshot's top tree holds one directory "." (the account root,
      // with its metadata): recover that.
      Tree top = repo.load_tree(t);
      if (top.nodes.size() == 1 && top.nodes[0].name == "." && top.nodes[0].type == NodeType::kDir) {
        entry = top.nodes[0];
        root = entry.subtree;
      }
    } catch (const Error&) {
      continue;  // not even the root loads: nothing to recover from it
    }
    if (reached.count(root)) continue;  // a top whose root a snapshot still has (recovered before)
    entry.name = root.short_hex();
    entry.subtree = root;
    out.roots.push_back(root);
    dir.nodes.push_back(std::move(entry));
  }
  if (dir.nodes.empty()) return out;
  std::sort(dir.nodes.begin(), dir.nodes.end(),
            [](const Node& a, const Node& b) { return a.name < b.name; });
  dir.nodes.erase(std::unique(dir.nodes.begin(), dir.nodes.end(),
                              [](const Node& a, const Node& b) { return a.name == b.name; }),
                  dir.nodes.end());
  Node top_node;
  top_node.name = ".";
  top_node.type = NodeType::kDir;
  top_node.mode = 0700;
  top_node.mtime_ns = top_node.atime_ns = now;
  top_node.subtree = repo.save_tree(dir);
  Tree top;
  top.nodes.push_back(std::move(top_node));
  Snapshot snap;
  snap.time = now;
  snap.node = "recovered";
  snap.account = "recovered";
  snap.hostname = "recovered";
  snap.paths = {"/recovered"};
  snap.tags = {"recovered"};
  snap.tree = repo.save_tree(top);
  snap.summary.dirs = dir.nodes.size();
  repo.flush();  // law 2: the trees before the snapshot
  out.snapshot = repo.save_snapshot(snap);
  return out;
}

}  // namespace lifeboat::repo
