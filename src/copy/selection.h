// Which snapshots a copy takes, and how it recognises one the destination
// already holds.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/id.h"
#include "repo/snapshot.h"

namespace lifeboat::copy {

using SnapshotList = std::vector<std::pair<Id, repo::Snapshot>>;

struct SnapshotFilter {
  std::vector<std::string> nodes;     // any of these (empty: all)
  std::vector<std::string> accounts;  // any of these (empty: all)
  std::vector<std::string> tags;      // carrying any of these (empty: all)
  int latest = 0;                     // > 0: only the newest N of each node and account
};

// The snapshots of `all` (oldest first) that pass `filter`, still oldest first.
SnapshotList select_snapshots(const SnapshotList& all, const SnapshotFilter& filter);

// What makes a copied snapshot the same snapshot: time, node, account,
// hostname, paths and tree id. Snapshot ids cannot serve (each repository
// seals with its own encryption key, so the same snapshot has another id
// there), but tree ids can: the tiers share the id key, so equal trees have
// equal ids, and the tree id covers every byte of content and metadata.
// Tags and the summary are left out: they describe the snapshot, not what
// it holds.
std::string snapshot_identity(const repo::Snapshot& s);

}  // namespace lifeboat::copy
