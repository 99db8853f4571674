// Node backup: one snapshot per account of a hosting node, all accounts
// through one Repository (one pipeline), so content shared by accounts is
// stored once. One account's trouble is that account's alone (law 6): it is
// recorded in its result and the others carry on; only a failure of the
// repository itself stops the node backup.
//
// Library code: nothing is printed; results and per-file trouble are
// reported through the callbacks and the returned result.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backup/archiver.h"
#include "base/clock.h"
#include "base/id.h"
#include "node/databases.h"
#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::node {

// The parent for a backup: the newest snapshot of the same account, node and
// (single) path in `snapshots` (oldest first, as Repository::list_snapshots
// returns them). Shared by `lifeboat backup` and `lifeboat node backup`.
std::optional<std::pair<Id, repo::Snapshot>> find_parent(
    const std::vector<std::pair<Id, repo::Snapshot>>& snapshots, const std::string& account,
    const std::string& node, const std::string& path);

enum class AccountOutcome { kOk, kPartial, kFailed };
const char* outcome_name(AccountOutcome o);  // "ok", "partial", "failed"

struct AccountResult {
  std::string account;
  std::string path;  // the directory backed up
  AccountOutcome result = AccountOutcome::kFailed;
  std::optional<Id> snapshot_id;
  std::optional<Id> parent_id;
  uint64_t files = 0;        // files in the snapshot (new + changed + unmodified)
  uint64_t bytes_total = 0;
  uint64_t bytes_read = 0;
  // Plaintext bytes of the blobs this account's backup stored (content
  // another account stored first counts there, not here).
  uint64_t bytes_added = 0;
  uint64_t errors = 0;       // entries that could not be read
  double duration_seconds = 0;
  std::string error;         // why the account failed (result kFailed)
  // With database commands: every database the list named, dumped or not.
  std::vector<DatabaseDump> databases;
};

// A live view of a node backup for a progress display; thread-safe (the
// backup updates it, a display thread reads it).
class NodeBackupProgress {
 public:
  struct View {
    size_t accounts_total = 0, accounts_done = 0;
    uint64_t files = 0, bytes = 0, bytes_read = 0, errors = 0;  // all accounts so far
    // The sum of every account's previous snapshot, if all have one (an
    // estimate of the node's bytes for an ETA); 0 if unknown.
    uint64_t bytes_expected = 0;
    std::vector<std::pair<std::string, uint64_t>> running;  // account, bytes done
  };
  View view() const;

  void start(size_t accounts, uint64_t bytes_expected);
  void account_started(const std::string& account, const backup::BackupProgress* progress);
  // The account's backup ended (its counts move to the finished ones).
  void account_finished(const backup::BackupProgress* progress);
  void account_done();  // counted as done, however it went

 private:
  mutable std::mutex mu_;
  View done_;  // finished accounts' counts, totals
  std::vector<std::pair<std::string, const backup::BackupProgress*>> running_;
};

struct NodeBackupOptions {
  std::string root;                   // the node's account root, e.g. /home
  std::string node;                   // node name, recorded in every snapshot
  std::vector<std::string> accounts;  // account = directory name under root
  std::vector<std::string> tags;      // in addition to "node:<node>"
  std::vector<std::string> excludes;  // passed to every account's backup
  // Dump every account's databases into its snapshot (.lifeboat/databases/).
  // A dump that fails (or a list command that fails) fails that account
  // alone: its snapshot is still saved with everything else, marked partial
  // with the dump's path in error_paths, and the account's result is
  // kFailed with an error naming the database, exit status and stderr.
  std::optional<DatabaseCommands> databases;
  // Accounts backed up at once, all through `repo` (its packers, upload
  // threads and index are shared, so content common to accounts is stored
  // once). Each account's snapshot is saved after a flush that makes that
  // account's blobs durable, whatever the others are doing.
  size_t parallel_accounts = 2;
  size_t io_threads_per_account = 4;
  std::function<UnixNanos()> clock;   // injected for tests; wall clock otherwise
  std::optional<UnixNanos> snapshot_time;  // every snapshot's time (`--time`); unset: its start
  // Called (from worker threads, serialized) when an account starts/ends.
  std::function<void(const std::string& account)> on_account_start;
  std::function<void(const AccountResult&)> on_account_done;
  NodeBackupProgress* progress = nullptr;  // optional live view
  // Per-entry trouble inside an account (the snapshot is then partial).
  // May be called from many threads at once.
  std::function<void(const std::string& account, const std::string& path,
                     const std::string& message)>
      on_file_error;
  // Noteworthy things that are not errors (an on-disk .lifeboat replaced).
  std::function<void(const std::string& account, const std::string& path,
                     const std::string& message)>
      on_warning;
};

struct NodeBackupResult {
  std::string node;
  std::vector<AccountResult> accounts;  // in the order of options.accounts
  size_t ok = 0, partial = 0, failed = 0;
  uint64_t files = 0;
  uint64_t bytes_total = 0;  // sum over the accounts' snapshots
  uint64_t bytes_read = 0;
  uint64_t bytes_added = 0;   // new blob bytes for the whole node (deduplicated)
  uint64_t bytes_stored = 0;  // bytes written to the repository
  double duration_seconds = 0;
  bool all_ok() const { return partial == 0 && failed == 0; }
};

// Backs up every account. Throws Error(kInvalidArgument) before any account
// if the database commands are unusable. Otherwise throws only when the repository
// fails (a write failure while reading files, or a flush that fails after
// an account's error) (no account after that is started; the error is rethrown once the
// running ones stopped). Account failures are in the result.
NodeBackupResult run_node_backup(repo::Repository& repo, const NodeBackupOptions& options);

}  // namespace lifeboat::node
