// The records under locks/ that let prune delete while other nodes back up
// (law 5, docs/ARCHITECTURE.md "Prune: deleting while others write"):
//
// - writer markers: a process that may save a snapshot (backup, node backup,
//   copy, repair snapshots) keeps one fresh while it runs and says in it
//   which prune plans it knew when it started;
// - prune plans: the packs a prune means to delete, written before anything
//   is deleted, so writers that start afterwards do not deduplicate
//   against them;
// - prune locks: one prune at a time (prunes exclude only each other).
//
// Every record is a sealed object (context "lock") named by 64 hex digits:
// a 48-digit run id (random per process) and a 16-digit sequence number.
// A writer renews its marker by writing the next sequence number and then
// removing the previous one, so renewal needs only create permission (an
// append-only server may refuse the removal; prune clears leftovers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "base/clock.h"
#include "base/id.h"
#include "crypto/mac.h"

namespace lifeboat::repo {

enum class LockKind : uint8_t { kWriter, kPrune, kPlan };

struct LockRecord {
  LockKind kind = LockKind::kWriter;
  std::string run;        // 48 hex digits
  uint64_t seq = 0;
  UnixNanos time = 0;     // when this record was written (writer's clock)
  UnixNanos started = 0;  // when the run began
  std::string host;
  std::string pid_namespace;  // "pid:[inode]" of the writer, to judge its pid on the same host
  int64_t pid = 0;
  // "<boot id>/<start time in clock ticks>": tells the writer from a later
  // process that was given the same pid.
  std::string process_start;
  std::string what;        // "node backup web209", "prune", ...
  bool ready = false;      // writers: the plans below are what it knew before deduplicating
  std::vector<Id> plans;   // writers: the plans (by id) it excludes from deduplication
  Id plan_id;              // plans: their id
  std::vector<Id> packs;   // plans: the packs to delete

  std::string name() const;  // run + seq as 64 hex digits
};

// A fresh random run id (48 hex digits).
std::string new_run_id();
// This process's host, pid and pid namespace, filled into `r`.
void fill_process_identity(LockRecord& r);

Bytes encode_lock_record(const crypto::Key32& encryption_key, const LockRecord& r);
// Throws Error(kCorrupt) naming the object when it does not decode.
LockRecord decode_lock_record(const crypto::Key32& encryption_key, ByteView sealed,
                              const std::string& name);

// Splits an object name into run and sequence number (nullopt: not a record name).
std::optional<std::pair<std::string, uint64_t>> parse_lock_name(std::string_view name);

// Everything under locks/, read once.
struct LockDirectory {
  std::vector<LockRecord> records;          // readable records
  std::vector<std::string> names;           // every object name (readable or not)
  std::vector<std::string> unreadable;      // names that did not decode (or vanished)

  // The newest record of each run of `kind`.
  std::vector<LockRecord> latest(LockKind kind) const;
  std::vector<LockRecord> plans() const;
};

LockDirectory read_lock_directory(backend::Backend& backend, const crypto::Key32& encryption_key);

// Whether the process that wrote `r` is certainly gone: it ran on this
// host, in this pid namespace, and its pid does not exist now, or belongs
// to a process started later (pids are reused), or the machine has booted
// since. Anything else (another host, another container) says nothing.
bool process_certainly_gone(const LockRecord& r);

// A record is stale when its process is certainly gone, or when it was last
// written more than `stale_after_ns` before `now` (the writer renews it far
// more often; docs/ARCHITECTURE.md gives the clock assumption).
bool lock_record_stale(const LockRecord& r, UnixNanos now, int64_t stale_after_ns);

// Renewal and staleness (docs/ARCHITECTURE.md "Prune: deleting while others write").
inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kMarkerRenewEvery = 5 * 60 * kSecond;
inline constexpr int64_t kMarkerStaleAfter = 60 * 60 * kSecond;
// A writer saves a snapshot only if its marker was renewed less than this
// long ago (by its own clock): a third of kMarkerStaleAfter, leaving room
// for clocks that disagree by up to half of it.
inline constexpr int64_t kMarkerCommitWithin = kMarkerStaleAfter / 3;

}  // namespace lifeboat::repo
