// The archiver: turns one directory tree into a snapshot.
//
// Pipeline: a parallel walk (directories listed and stat'ed on a pool of I/O
// threads, many files open at once, because on a hosting node the cost is per
// file, not per byte) -> read -> chunk -> hash -> dedup -> compress+encrypt
// -> pack -> upload (repo::Repository). Trees are built bottom-up as soon as
// a directory's children are done. Files the parent snapshot proves
// unchanged (same size, mtime, ctime, inode) are not read at all.
//
// Files that vanish, cannot be read or change while being read never stop
// the backup: they are reported through on_error, recorded in the snapshot
// (error_paths, damaged entries), and the result says partial.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::backup {

// Live counters, readable from any thread while the backup runs.
struct BackupProgress {
  std::atomic<uint64_t> files_seen{0};   // found so far (by the scanner if count_totals)
  std::atomic<uint64_t> bytes_seen{0};   // their sizes
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};   // content bytes handled (read or proven unchanged)
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> walk_finished{false};  // files_seen/bytes_seen are final
};

struct BackupOptions {
  std::string account;
  std::string node;
  std::vector<std::string> tags;
  // Glob patterns (fnmatch) matched against the path relative to the root
  // ("sub/dir/file") and against the base name; matches are skipped.
  std::vector<std::string> excludes;
  // Previous snapshot of the same account: unchanged files are taken from it.
  std::optional<repo::Snapshot> parent;
  std::optional<Id> parent_id;
  size_t io_threads = 8;       // files and directories in flight
  bool force_reread = false;   // ignore the parent for change detection
  bool with_atime = false;     // record access times (otherwise atime := mtime)
  // Count the files and bytes to back up on a separate scanner thread (a
  // cheap stat-only walk), so progress has totals and an ETA early. Only
  // worth it when someone watches the progress.
  bool count_totals = false;
  std::function<void(const std::string& path, const std::string& message)> on_error;
  BackupProgress* progress = nullptr;
  // For tests only: called with (path, "before_open") and (path, "after_read")
  // around every file read, to simulate files that vanish or change.
  std::function<void(const std::string& path, const char* stage)> test_hook;
  // Injected for deterministic tests; defaults to the wall clock.
  std::function<UnixNanos()> clock;
};

struct BackupResult {
  Id snapshot_id;
  repo::Snapshot snapshot;
  bool partial = false;
};

// Backs up the directory `root` and saves a snapshot. Throws Error only for
// failures that make the whole backup impossible (root unreadable,
// repository write failure); per-entry trouble is reported and tolerated.
BackupResult run_backup(repo::Repository& repo, const std::string& root,
                        const BackupOptions& options);

}  // namespace lifeboat::backup
