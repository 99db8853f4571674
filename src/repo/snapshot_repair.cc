#include "repo/snapshot_repair.h"

#include <map>

#include "base/error.h"

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
  const auto snapshots = repo.list_snapshots();
  TreeSalvage salvage(repo, options.read_data);
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
    if (new_top != snap.tree) {
      Snapshot fixed = snap;
      fixed.tree = new_top;
      fixed.partial = true;
      fixed.error_paths.insert(fixed.error_paths.end(), r.damaged.begin(), r.damaged.end());
      fixed.tags.push_back("repaired");
      fixed.tags.push_back("repaired-from:" + id.hex().substr(0, 16));
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

}  // namespace lifeboat::repo
