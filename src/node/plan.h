// Plan before deciding: for one node and one or more repositories, what a
// whole-node restore from each would bring back (RPO: the age of every
// account's newest complete snapshot) and how long it would take (RTO: an
// estimate from the bytes to fetch after deduplication, a short probe of
// reads from the packs the node needs, and a local write cost). These are
// the numbers an operator needs in the first minutes of an outage to choose
// where to restore from.
//
// The RTO is an ESTIMATE, from this model (docs/CLI.md "plan"):
//
//   the restore opens the repository and loads its index (measured: the
//   time the plan took to do the same), walks the trees of every account
//   (each distinct tree once), then fetches content in smallest-account-
//   first order, each distinct blob once, charged to the first account that
//   needs it, as coalesced ranged reads by `fetchers` readers, while the
//   files are written. With L the probe's per-request latency, B its
//   transfer rate and F the fetchers:
//     trees(a) = tree_reads(a) * L / F + tree_bytes(a) / B
//     fetch(a) = ranges(a) * L / F + read_bytes(a) / B
//     write(a) = entries(a) * seconds_per_entry + bytes(a) * seconds_per_byte
//     ready(a) = open + sum(trees) + max(sum of fetch, sum of write) over a
//                and the accounts before it
//     RTO      = ready(last account)
//   Fetching and writing overlap (bounded queues between them), so the
//   slower of the two sets the pace.
//
// Library code: prints nothing; progress goes through PlanProgress atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "base/id.h"
#include "node/plan_probe.h"
#include "repo/read_ranges.h"
#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::node {

// The constants of the model above. The write costs come from measured
// restores on the 2-core benchmark machine: one 400 MiB file restores at
// ~1.5 ns per byte, and the rest of the full restore of docs/BENCHMARKS.md
// (289,706 entries, 3.15 GB, 10.4 s) is ~20 us per entry (3.15 GB x 1.5 ns
// + 289,706 x 20 us = 10.5 s). A restore onto other hardware writes faster
// or slower; that is one reason the RTO is an estimate.
struct RtoModel {
  size_t fetchers = 4;        // concurrent ranged reads (restore::ContentOptions::fetch_threads)
  repo::RangeLimits ranges;   // the restore's read shape (16 MiB, gaps <= 1 MiB)
  double seconds_per_entry = 20e-6;   // create a file, directory or link and set its metadata
  double seconds_per_byte = 1.5e-9;   // decrypt, decompress, verify and write one byte
};

// Counters for a status line; may be read from any thread.
struct PlanProgress {
  std::atomic<uint64_t> trees{0};        // trees walked (all repositories)
  std::atomic<uint64_t> blobs{0};        // distinct content blobs found (summed over repositories)
  std::atomic<uint64_t> probe_bytes{0};  // bytes read by the running probe
  std::atomic<int> probing{-1};          // the repository being probed (index), -1 none
};

struct PlanOptions {
  std::string node;
  // Only these accounts (an account without a snapshot is reported missing);
  // empty: every account with a snapshot of the node.
  std::vector<std::string> accounts;
  UnixNanos now = 0;
  // Plan as of this time: snapshots taken later are ignored and ages are
  // counted from it ("what if the node had died at ...").
  std::optional<UnixNanos> at;
  int64_t max_age_ns = 26LL * 3600 * 1000000000;  // older complete snapshots are stale
  size_t walk_threads = 8;                        // trees loaded at once
  size_t probe_sample = 4096;                     // ranges kept to draw the probe from
  ProbeOptions probe;
  RtoModel model;
  PlanProgress* progress = nullptr;
};

struct AccountPlan {
  std::string account;
  // The snapshot a restore would use: the newest complete one, else (every
  // snapshot partial) the newest partial one; none if the account has no
  // snapshot of the node here (then `missing`).
  std::optional<Id> snapshot_id;
  UnixNanos snapshot_time = 0;
  bool snapshot_partial = false;
  Id tree;  // that snapshot's top tree
  bool missing = false;
  // RPO: the newest complete snapshot and its age; none if all are partial.
  std::optional<Id> complete_id;
  UnixNanos complete_time = 0;
  double age_seconds = 0;
  // The newest snapshot when it is partial and newer than the complete one.
  std::optional<Id> newer_partial_id;
  UnixNanos newer_partial_time = 0;
  bool stale = false;  // no complete snapshot at most max_age old
  // From the snapshot's summary.
  uint64_t bytes_total = 0;
  uint64_t files = 0;
  uint64_t entries = 0;  // files, directories and other entries
  // What restoring it adds in smallest-first order: blobs and trees no
  // account before it needs (shared content counts at the first one).
  uint64_t blobs = 0;
  uint64_t unique_bytes = 0;  // plaintext of those blobs
  uint64_t stored_bytes = 0;  // as stored in the packs
  uint64_t ranges = 0;        // ranged reads for them
  uint64_t read_bytes = 0;    // bytes those reads fetch (gaps between blobs included)
  uint64_t trees = 0;
  uint64_t tree_bytes = 0;
  size_t order = 0;            // position in the smallest-first order
  double ready_seconds = 0;    // estimated time until it is restored
};

// Newest complete snapshot ages over the accounts that have one.
struct RpoSummary {
  size_t accounts = 0;
  double min_age_seconds = 0, median_age_seconds = 0, max_age_seconds = 0;
};

struct ContentTotals {
  size_t restorable = 0;     // accounts with a snapshot to restore
  uint64_t bytes_total = 0;  // sum of their snapshots' bytes_total
  uint64_t files = 0;
  uint64_t entries = 0;
  uint64_t blobs = 0;         // distinct content blobs needed
  uint64_t unique_bytes = 0;  // their plaintext bytes
  uint64_t stored_bytes = 0;  // their stored bytes
  uint64_t trees = 0;         // distinct trees
  uint64_t tree_bytes = 0;
  uint64_t packs = 0;         // packs holding the blobs
  uint64_t ranges = 0;        // ranged reads in smallest-first order
  uint64_t read_bytes = 0;    // what those reads fetch: stored bytes and the gaps they span
  uint64_t missing_blobs = 0;     // needed but not in the index (not counted above)
  uint64_t unreadable_trees = 0;  // trees that could not be loaded (below them: not counted)
};

struct RtoEstimate {
  bool known = false;
  std::string unknown_reason;  // why not (the probe could not read)
  double open_seconds = 0;     // opening and loading the index
  double tree_seconds = 0;
  double fetch_seconds = 0;
  double write_seconds = 0;
  double total_seconds = 0;  // = ready100
  // Time until 50% / 90% / 100% of the restorable accounts are restored.
  double ready50 = 0, ready90 = 0, ready100 = 0;
};

struct RepoPlan {
  std::string location;
  // Set when the repository could not be opened or planned; nothing else is.
  std::string error;
  ErrorCode error_code = ErrorCode::kInternal;
  bool ok() const { return error.empty(); }

  std::vector<AccountPlan> accounts;  // sorted by name
  size_t stale = 0;         // accounts without a complete snapshot within max_age
  size_t missing = 0;       // accounts without any snapshot
  size_t partial_only = 0;  // accounts whose snapshots are all partial
  RpoSummary rpo;
  ContentTotals content;
  ProbeResult probe;
  RtoEstimate rto;
  double open_seconds = 0;            // measured by plan_node
  std::vector<std::string> warnings;  // trouble that makes numbers incomplete
  std::vector<ProbeRange> probe_ranges;  // a random sample of the node's reads
};

// ---- the steps of one repository's plan, in order ----

// Chooses every account's snapshot and computes the RPO, from `snapshots` as
// Repository::list_snapshots returns them (node status's selection).
RepoPlan select_snapshots(const std::vector<std::pair<Id, repo::Snapshot>>& snapshots,
                          const PlanOptions& options);
// Walks the chosen snapshots' trees (each distinct tree once, in parallel)
// and fills in the content each account adds and the totals. Needs the
// index loaded. Unreadable trees and blobs missing from the index are
// counted and warned about, not thrown.
void measure_content(repo::Repository& repo, RepoPlan& plan, const PlanOptions& options);
// Fills plan.rto and every account's ready_seconds from plan.probe.
void estimate_rto(RepoPlan& plan, const RtoModel& model);

// All steps, probe included, for one open repository (index loaded).
RepoPlan plan_repository(repo::Repository& repo, const PlanOptions& options);

// ---- several repositories ----

struct RepoSource {
  std::string location;
  // Opens the repository and loads its index; throws lifeboat::Error.
  std::function<std::unique_ptr<repo::Repository>()> open;
};

// Which step of recommend()'s rule settled it.
enum class Decided {
  kOnly,   // one repository could be planned
  kStale,  // it has the fewest stale accounts
  kRto,    // as few stale accounts as any, and the shortest RTO
  kRpo,    // as good on both, and the freshest snapshots
  kOrder,  // as good on all three: the first given
};
const char* decided_name(Decided d);  // "only", "stale", "rto", "rpo", "order"

struct Recommendation {
  std::optional<size_t> repo;  // index into NodePlan::repos; none if none could be planned
  Decided decided_by = Decided::kOnly;
};

struct NodePlan {
  std::string node;
  std::vector<RepoPlan> repos;  // in the order given
  Recommendation recommendation;
};

// Plans every repository: opening, listing and walking run concurrently
// (their time is round trips, each on its own store); the probes run one
// after another, so no probe shares the bandwidth it measures. A repository
// that cannot be opened or planned gets its error in its row. Accounts that
// some repository has and another lacks are listed as missing in the latter.
NodePlan plan_node(const std::vector<RepoSource>& sources, const PlanOptions& options);

// The repository to restore from: fewest stale accounts; then the shortest
// RTO estimate (estimates within 10% or 30 s of the shortest count as equal,
// and a repository without one comes after those with one); then the
// freshest (smallest oldest newest-complete-snapshot age); then the first
// given.
Recommendation recommend(const std::vector<RepoPlan>& repos);

}  // namespace lifeboat::node
