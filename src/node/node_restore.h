// Node restore: every account of a node back from its newest complete
// snapshot (or the newest before a time), most accounts online soonest.
//
//  - Order: accounts listed in a priority list first (in its order), then
//    the rest smallest first by default (the count of accounts online climbs
//    fastest), or by name, or largest first.
//  - One batch (restore/batch.h): each unique blob is fetched once for the
//    whole node and written wherever it is needed; content is fetched in
//    account order, and every fetcher and worker serves whichever account is
//    next, so a big account's files are restored in parallel like any other's.
//  - Each account is verified against its snapshot as soon as its last file
//    is written, then counts as ready and is handed to the ready hook (the
//    operator's "bring it online" step), on a thread of its own so a slow
//    hook never holds up the restore. An account that fails (unreadable
//    snapshot, missing or damaged blobs, verification differences) is
//    retried once the others are through, then reported; it never blocks them.
//  - Resumable: the accounts chosen and every account that became ready (and
//    whose hook succeeded) are journaled in a state directory; a run with
//    `resume` restores the same snapshots, skips ready accounts, keeps files
//    an interrupted run completed (restore/planner.h: same size and mtime,
//    then verified like everything else) and runs hooks that never ran.
//  - Timeline: per account its bytes, when its content started, when it was
//    ready and online; times to 50/90/100% of accounts ready.
//
// Library code: nothing is printed; the CLI shows progress and results.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/id.h"
#include "repo/repository.h"
#include "repo/snapshot.h"
#include "restore/batch.h"

namespace lifeboat::node {

enum class RestoreOrder { kSmallest, kName, kLargest };
// "size" (smallest first), "name", "largest"; throws Error(kInvalidArgument).
RestoreOrder parse_restore_order(const std::string& text);

struct NodeRestoreOptions {
  std::string node;
  std::string target;                 // accounts go to <target>/<account>
  std::vector<std::string> accounts;  // only these (empty = every account of the node)
  std::optional<UnixNanos> at;        // newest snapshot at or before this time
  // Take each account's newest snapshot even if it is partial (some entries
  // could not be read at backup time). By default a partial snapshot is
  // taken only when the account has no complete one: the same choice
  // `lifeboat plan` estimates.
  bool newest_even_if_partial = false;
  std::vector<std::string> priority;  // restored first, in this order
  RestoreOrder order = RestoreOrder::kSmallest;
  // Where the journal and timeline live; "" = <target>/.lifeboat-restore.
  std::string state_dir;
  bool resume = false;   // continue the run journaled in state_dir
  bool restart = false;  // discard an earlier run's state and start over
  // Run (through /bin/sh) once an account is verified; see docs/CLI.md for
  // its arguments and environment. Empty: none.
  std::string ready_hook;
  int hook_timeout_seconds = 600;
  int retries = 1;  // extra attempts for an account that failed
  bool verify = true;
  bool restore_owner = true;
  size_t fetch_threads = 4;  // per repository
  size_t worker_threads = 2;
  // Other repositories holding the same snapshots (copies sharing the id
  // key; index loaded). Snapshots are chosen in the one passed to
  // run_node_restore; content is read from all (restore/content.h).
  std::vector<repo::Repository*> more_repos;
  // Per-entry trouble (serialized; from worker threads).
  std::function<void(const std::string& account, const std::string& path,
                     const std::string& message)>
      on_error;
  // An account is ready (verified, before its hook) / failed for good /
  // its hook failed. Serialized.
  std::function<void(const std::string& account, const std::string& event,
                     const std::string& detail)>
      on_event;
  // Live progress of the current attempt; set before the batch starts.
  std::function<void(const restore::BatchProgress*, const std::vector<std::string>* accounts)>
      on_batch;
};

enum class AccountState { kReady, kFailed, kHookFailed };
const char* account_state_name(AccountState s);  // "ready", "failed", "hook_failed"

struct AccountRestore {
  std::string account;
  Id snapshot_id;
  UnixNanos snapshot_time = 0;
  bool snapshot_partial = false;  // the snapshot itself was a partial backup
  uint64_t bytes = 0;             // content bytes (the snapshot's summary)
  uint64_t files = 0;
  AccountState state = AccountState::kFailed;
  bool resumed = false;     // ready in an earlier run (not restored again)
  int attempts = 0;
  uint64_t files_kept = 0;  // completed by an earlier run, kept
  uint64_t errors = 0;      // entries that could not be restored (last attempt)
  uint64_t mismatches = 0;  // entries that differed from the snapshot (last attempt)
  std::string error;        // why it failed / why its hook failed
  // Seconds since the node restore started; < 0 = never. `restored`: its
  // last file written (then links, metadata and verification follow).
  double started = -1, restored = -1, ready = -1, online = -1;
};

struct NodeRestoreResult {
  std::string node;
  std::string target;
  std::string state_dir;
  std::vector<AccountRestore> accounts;  // in restore order
  size_t ready = 0, failed = 0, hook_failed = 0, resumed = 0;
  uint64_t bytes_written = 0;  // content bytes written to the target
  uint64_t bytes_fetched = 0;  // content bytes read from the repositories
  // Per repository (the first, then more_repos), over every attempt.
  std::vector<restore::SourceStats> sources;
  double duration_seconds = 0;
  // Seconds until 50/90/100% of the accounts were ready (< 0: never).
  double ready_50 = -1, ready_90 = -1, ready_100 = -1;
  bool all_ready() const { return failed == 0 && hook_failed == 0; }
};

// Restores the node. Throws Error for what stops everything: no snapshots of
// the node (kNotFound), an unusable target or state (kInvalidArgument: e.g.
// an earlier run's state without resume/restart), a full disk (kNoSpace).
// Everything about single accounts is in the result. Needs the index loaded.
NodeRestoreResult run_node_restore(repo::Repository& repo, const NodeRestoreOptions& options);

// The snapshot to restore of every account of `node` (at or before `at`),
// from Repository::list_snapshots's output, by account name: the newest
// complete one, else the newest (all partial); with `even_if_partial` the
// newest.
std::vector<std::pair<Id, repo::Snapshot>> newest_per_account(
    const std::vector<std::pair<Id, repo::Snapshot>>& snapshots, const std::string& node,
    std::optional<UnixNanos> at, bool even_if_partial = false);

// The restore order: `priority` names first (in their order, those that
// exist), then the others by `order` (ties by name). Returns indexes into
// `accounts` (name, bytes).
std::vector<size_t> restore_order(const std::vector<std::pair<std::string, uint64_t>>& accounts,
                                  const std::vector<std::string>& priority, RestoreOrder order);

// Writes <prefix>.json and <prefix>.csv (per account: bytes, files,
// started, ready, online, state; times to 50/90/100%). Throws Error naming
// the file.
void write_timeline(const NodeRestoreResult& result, const std::string& prefix);

}  // namespace lifeboat::node
