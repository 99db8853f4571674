// `lifeboat repair snapshots`: salvages snapshots that name data the
// repository no longer has. For each damaged snapshot a new one is written
// in which every file whose content cannot be found keeps its name, size
// and metadata but has the missing parts as holes (zeros) and is marked
// damaged, every directory whose tree cannot be read is kept empty and
// marked damaged, and everything readable is kept as it was; the paths are
// listed in the new snapshot's error_paths. The original is left in place
// unless `forget` is asked (then only its snapshot object is removed; its
// data stays until prune).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/id.h"
#include "repo/repository.h"

namespace lifeboat::repo {

struct SnapshotRepairOptions {
  bool forget = false;     // remove the originals of the snapshots repaired
  bool read_data = false;  // also load and verify every content blob (slow)
  std::function<void(size_t done, size_t total)> on_progress;  // snapshots examined
};

struct RepairedSnapshot {
  Id original;
  std::string node, account;
  std::optional<Id> repaired;          // the new snapshot; none if it was intact
  std::vector<std::string> damaged;    // paths (from the snapshot root) marked damaged
  bool forgotten = false;
};

struct SnapshotRepairResult {
  std::vector<RepairedSnapshot> snapshots;  // every snapshot examined, oldest first
  size_t intact = 0, repaired = 0;
};

// Needs the index loaded. Throws for what stops it all (a save that fails).
SnapshotRepairResult repair_snapshots(Repository& repo, const SnapshotRepairOptions& options);

// `repair snapshots --recover-orphans`: a snapshot object that is damaged
// or deleted takes nothing else with it; its trees are still in the packs.
// Finds the trees no readable snapshot reaches whose parents are not such
// trees either (the roots of lost snapshots, or of snapshots forgotten but
// not yet pruned), and writes one snapshot (node "recovered", account
// "recovered", tagged "recovered") with one directory per root, named
// after the root tree's short id. Nothing is written when there is none.
struct OrphanRecovery {
  std::vector<Id> roots;     // account roots (a snapshot top's "." already unwrapped)
  std::optional<Id> snapshot;
};
OrphanRecovery recover_orphans(Repository& repo);

}  // namespace lifeboat::repo
