// `lifeboat copy`: snapshots from one repository into another (the snapshot
// host → nightly offsite → weekly offsite), sending only the blobs the
// destination lacks and never touching the files that were backed up.
//
// The steps, per snapshot, oldest first:
//   1. skip it if the destination holds the same snapshot (selection.h);
//   2. walk its trees in the source; store each tree the destination lacks
//      and collect the data blobs it lacks;
//   3. move those blobs pack by pack (blob_transfer.h), flushing every
//      `flush_every_bytes`;
//   4. flush the destination (law 2: its blobs durable and indexed), then
//      save the snapshot there.
// A copy killed at any moment leaves a destination `check` accepts (the
// snapshot comes last) and loses at most the unflushed tail: the next run
// finds what was flushed in the index and does not send it again.
//
// Trees are walked in full for every snapshot copied, even where the
// destination already has a tree: a tree stored by a killed copy (or a
// killed backup) may be durable while blobs below it are not, so only the
// walk proves a snapshot complete. Each tree is walked once per run.
//
// Nothing here deletes anything: append-only destinations work.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "copy/selection.h"
#include "repo/read_ranges.h"
#include "repo/repository.h"
#include "repo/writer_registration.h"

namespace lifeboat::copy {

// Live counters, for a status line (read from another thread).
struct CopyProgress {
  std::atomic<uint64_t> snapshots_total{0};
  std::atomic<uint64_t> snapshots_done{0};  // copied, skipped or failed
  std::atomic<uint64_t> trees_walked{0};
  repo::SaveTally sent;  // blobs stored in the destination (trees and data)
};

struct SnapshotOutcome {
  enum class Kind { kCopied, kSkipped, kFailed };
  Kind kind = Kind::kCopied;
  Id source_id;
  std::optional<Id> destination_id;  // copied, or the one it matched (skipped)
  repo::Snapshot snapshot;
  uint64_t blobs_sent = 0;
  uint64_t bytes_sent = 0;  // plaintext
  std::string error;        // kFailed: what the source could not provide
};

struct CopyReport {
  std::vector<SnapshotOutcome> snapshots;
  uint64_t copied = 0, skipped = 0, failed = 0;
  uint64_t trees_walked = 0;
  uint64_t blobs_sent = 0;
  uint64_t bytes_sent = 0;    // plaintext
  uint64_t bytes_stored = 0;  // compressed and encrypted, as written
  bool interrupted = false;   // options.stop was set: the rest was not copied
};

struct CopyOptions {
  size_t transfer_threads = 4;  // ranges read and stored at once
  size_t tree_threads = 8;      // trees loaded at once during the walk
  repo::RangeLimits limits;
  // Flush the destination after this many stored bytes (8 packs by
  // default): the most a killed copy sends again.
  uint64_t flush_every_bytes = 128u << 20;
  // Data blobs collected by the walk before they are sent (bounds memory).
  size_t batch_blobs = 100000;
  const std::atomic<bool>* stop = nullptr;  // set by the caller to stop early
  CopyProgress* progress = nullptr;
  std::function<void(const SnapshotOutcome&)> on_snapshot;  // after each snapshot
};

// The destination side of a copy, opened for writing. prepare_destination
// is the one place that decides what happens before a copy writes there.
struct Destination {
  repo::Repository* repo = nullptr;
  // Registered as a writer while the copy runs, so a prune in DST neither
  // deletes what the copy relies on nor is relied on by it
  // (repo/writer_registration.h).
  std::unique_ptr<repo::WriterRegistration> writer;
  std::unordered_map<std::string, Id> snapshots;  // snapshot_identity -> id
};

// Loads the destination's index, drops entries of packs it no longer has
// (so their blobs are sent again, not named while gone) and lists its
// snapshots. Throws what the repository throws, and kCorrupt when its
// config is damaged (as backups do: its settings would be guessed).
Destination prepare_destination(repo::Repository& dst);

// Copies `snapshots` (from `src`, whose index is loaded) into `dst`.
// Requires shared id keys (require_shared_ids). A snapshot the source cannot
// provide whole is reported as failed and the copy goes on; anything else
// (the destination failing) is thrown.
CopyReport copy_snapshots(const repo::Repository& src, Destination& dst,
                          const SnapshotList& snapshots, const CopyOptions& options);

}  // namespace lifeboat::copy
