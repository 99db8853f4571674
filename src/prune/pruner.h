// prune: deletes the data no snapshot needs and repacks packs that are
// mostly unused, while other nodes keep backing up (law 5). The scheme and
// its safety argument are in docs/ARCHITECTURE.md "Prune: deleting while
// others write"; in short, every run
//
// 1. takes the prune lock (prunes exclude each other, nothing else);
// 2. reads locks/: the writers running and the plans earlier runs wrote;
// 3. computes what every snapshot needs (after step 2: a writer that has
//    finished by then has its snapshot listed);
// 4. deletes the packs of each plan that every live writer names (they all
//    excluded its packs from deduplication), except packs holding a needed
//    blob with no copy elsewhere: index segments first, then packs, then
//    the plan;
// 5. repacks the needed blobs of mostly-unused packs into new packs and
//    writes a new plan naming the unused and repacked packs — deleting
//    nothing yet;
// 6. if no writer is running, carries the new plan out at once (step 4,
//    after walking the snapshots saved meanwhile); otherwise a later prune
//    does, once the writers that did not know it have ended.
//
// Killed at any point, the repository stays one `check` accepts and the
// next prune carries on from the plans it finds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "repo/lock_records.h"
#include "repo/repository.h"

namespace lifeboat::prune {

struct PruneOptions {
  // Repack a pack when at least this fraction of its bytes is unused.
  double repack_unused = 0.5;
  // Also repack packs smaller than this fraction of the target pack size
  // (node backups flush per account and leave small packs) when there are
  // at least two of them; 0 turns it off.
  double repack_small = 0.25;
  // Then, while more than this fraction of what stays would still be
  // unused, repack more packs, the most unused first (restic's
  // --max-unused): the per-pack threshold leaves packs just under it, and
  // a month of them adds up. 1 turns it off.
  double max_unused = 0.05;
  // Report what would happen; write and delete nothing.
  bool dry_run = false;
  int64_t stale_after_ns = repo::kMarkerStaleAfter;
  // Multipart uploads (S3) started longer ago than this and never
  // completed are abandoned: a killed writer's parts.
  int64_t abandon_uploads_after_seconds = 24 * 3600;
  // Entries per rewritten index segment.
  size_t segment_entries = 1 << 16;
  std::function<void(const std::string&)> warn;
};

// Live counters for a progress display (read from another thread).
struct PruneProgress {
  std::atomic<int> phase{0};  // index into kPrunePhases
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> total{0};
};
inline constexpr const char* kPrunePhases[] = {
    "reading the index", "finding what snapshots use", "deleting", "repacking", "planning",
};
enum PrunePhase { kPhaseIndex, kPhaseWalk, kPhaseDelete, kPhaseRepack, kPhasePlan };

struct PruneReport {
  uint64_t snapshots = 0;
  uint64_t packs = 0;          // packs in the repository at the start
  uint64_t bytes = 0;          // their bytes
  uint64_t blobs_used = 0;     // distinct blobs the snapshots need
  uint64_t bytes_unused = 0;   // stored bytes of blobs no snapshot needs (packs not yet planned)

  // Carried out this run (plans from earlier runs, or this run's own).
  uint64_t plans_done = 0;
  uint64_t packs_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t packs_kept_back = 0;  // planned packs a new snapshot needs after all
  uint64_t segments_written = 0;
  uint64_t segments_removed = 0;

  // Planned this run.
  uint64_t packs_unused = 0;     // wholly unused packs
  uint64_t packs_repacked = 0;
  uint64_t blobs_repacked = 0;
  uint64_t bytes_repacked = 0;   // stored bytes read and written again
  uint64_t packs_planned = 0;    // in the new plan
  uint64_t bytes_planned = 0;
  uint64_t bytes_unused_after = 0;  // unused bytes left in packs that stay, once the plan is carried out

  // Waiting: plans whose packs stay until these writers end.
  uint64_t plans_waiting = 0;
  uint64_t packs_waiting = 0;
  uint64_t bytes_waiting = 0;
  std::vector<std::string> waiting_for;  // "node backup web209 (host, pid 123, since ...)"

  uint64_t records_removed = 0;          // stale markers, superseded records
  uint64_t uploads_abandoned = 0;        // stale multipart uploads (S3)
  uint64_t locks_checked = 0;            // Object Lock retentions read (lock_renewal.h)
  uint64_t locks_renewed = 0;            // ... and set again: less than half the period was left
  std::vector<std::string> unreadable;   // packs or records prune could not read (left alone)
};

// Throws Error(kAlreadyExists) if another prune holds the lock, kCorrupt if a
// snapshot or tree cannot be read (deleting then could destroy what a repair
// would recover), and what the backend throws.
PruneReport prune(repo::Repository& repo, const PruneOptions& options, PruneProgress* progress = nullptr);

}  // namespace lifeboat::prune
