// The restorer: writes a snapshot's tree (or a part of it) into a target
// directory, reproducing content and metadata exactly.
//
// Plan by pack: every needed blob is grouped by pack and sorted by offset;
// nearby ranges are coalesced into one ranged read; fetchers read in
// parallel; blobs are decrypted, decompressed and verified on a worker pool
// and written with pwrite into files opened once; holes stay holes; each
// unique blob is fetched once however many files contain it. Metadata is
// applied last: file metadata after its content, hard links after their
// targets, directory metadata after their children (deepest first).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace lifeboat::restore {

struct RestoreProgress {
  std::atomic<uint64_t> files_total{0};
  std::atomic<uint64_t> bytes_total{0};
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> errors{0};
};

struct RestoreOptions {
  // A path inside the snapshot to restore ("" = everything), e.g. "public_html/wp-content".
  std::string subpath;
  // Glob patterns over the path relative to the snapshot root: if includes is
  // non-empty only matching entries (and the directories leading to them) are
  // restored; excludes are skipped.
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool restore_owner = true;   // numeric uid/gid; effective only as root
  size_t fetch_threads = 4;    // concurrent ranged reads from the repository
  size_t worker_threads = 2;   // decrypt / decompress / verify / write
  std::function<void(const std::string& path, const std::string& message)> on_error;
  RestoreProgress* progress = nullptr;
};

struct RestoreResult {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t other = 0;       // symlinks, devices, fifos
  uint64_t bytes = 0;       // content bytes written (holes excluded)
  uint64_t errors = 0;      // entries that could not be restored
  uint64_t damaged = 0;     // entries marked damaged in the snapshot
};

// Restores snapshot tree `root_tree` (the snapshot's `tree` id) into
// `target`, which is created if missing (must be empty or absent unless
// files are to be overwritten). Throws Error if nothing can be restored
// (target not writable, tree unreadable); per-entry failures are reported
// through on_error and counted.
RestoreResult run_restore(repo::Repository& repo, const Id& root_tree, const std::string& target,
                          const RestoreOptions& options);

}  // namespace lifeboat::restore
