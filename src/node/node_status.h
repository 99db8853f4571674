// Node status: for every account of a node, its newest snapshot, age, size
// and last result, and whether it is stale (no snapshot newer than a given
// age, or none at all). Computed from Repository::list_snapshots.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/id.h"
#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::node {

struct AccountStatus {
  std::string account;
  std::optional<Id> snapshot_id;  // newest snapshot; none if the account has no snapshot
  UnixNanos time = 0;             // its time
  double age_seconds = 0;         // now - time
  uint64_t bytes_total = 0;       // its summary.bytes_total
  bool partial = false;           // last result: partial (else ok)
  size_t snapshots = 0;           // snapshots of this account on this node
  // The newest complete (not partial) snapshot: the same as snapshot_id
  // unless the newest one is partial; none if every snapshot is partial.
  std::optional<Id> complete_id;
  UnixNanos complete_time = 0;
  bool stale = false;             // no snapshot, or the newest is older than max_age
};

struct NodeStatus {
  std::string node;
  int64_t max_age_ns = 0;
  std::vector<AccountStatus> accounts;  // sorted by account name
  size_t stale = 0;
  size_t missing = 0;  // accounts without any snapshot
};

// `snapshots` as Repository::list_snapshots returns them; `known_accounts`
// (e.g. the directories under the node's root) are listed even without a
// snapshot, and are then stale.
NodeStatus compute_node_status(const std::vector<std::pair<Id, repo::Snapshot>>& snapshots,
                               const std::string& node,
                               const std::vector<std::string>& known_accounts, UnixNanos now,
                               int64_t max_age_ns);

NodeStatus node_status(const repo::Repository& repo, const std::string& node,
                       const std::vector<std::string>& known_accounts, UnixNanos now,
                       int64_t max_age_ns);

// "90", "90s", "30m", "26h", "7d" -> nanoseconds. Throws
// Error(kInvalidArgument) for anything else.
int64_t parse_max_age(const std::string& text);

}  // namespace lifeboat::node
