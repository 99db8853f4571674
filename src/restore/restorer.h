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
//
// Bounds: content in memory is at most ~8 ranged reads of <= 16 MiB; open
// files at most max_open_files (+1 per worker), directory descriptors at
// most 128. The plan itself (one small record per file, directory and
// content part) grows with the size of the tree being restored.
//
// The passes live in planner.h (walk the trees; create directories and
// special files), content.h (fetch, verify, write), file_table.h (files and
// their descriptors) and dir_table.h (every call relative to a directory
// descriptor, so depth is unlimited by PATH_MAX).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "restore/sources.h"

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
  // restored; excludes are skipped (an exclude wins). fnmatch without
  // FNM_PATHNAME ('*' matches '/'), tried on the relative path
  // ("public_html/index.php") and on the base name; a pattern starting with
  // '/' is tried on the relative path only. A matching directory brings (or
  // drops) its whole subtree.
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool restore_owner = true;  // numeric uid/gid; effective only as root
  // Resuming: a regular file already in the target with the snapshot's size
  // and modification time is kept as it is (a restore sets a file's times
  // only once its content is complete). Verification still reads it.
  bool keep_complete_files = false;
  // Read everything back once restored and compare it with the snapshot
  // (content ids, sizes, types, modes, owners, times, xattrs, links); see
  // verify.h. Differences are reported through on_error and counted.
  bool verify = false;
  size_t fetch_threads = 4;   // concurrent ranged reads from each repository
  size_t worker_threads = 2;  // decrypt / decompress / verify / write
  // Files open for writing at once; 0 = automatic (at most 1000, and a
  // quarter of RLIMIT_NOFILE, which run_restore raises to its hard limit).
  // Several restores in one process should share the budget.
  size_t max_open_files = 0;
  // Called for every entry that could not be restored (completely), with
  // its path in the target ("<target>/dir/file") and a one-line message;
  // also for entries that were damaged at backup time. Calls are serialized
  // (never two at once) but come from worker threads.
  std::function<void(const std::string& path, const std::string& message)> on_error;
  RestoreProgress* progress = nullptr;
  // Other repositories holding the same blobs (copies of the one passed to
  // run_restore, sharing its id key; index loaded): content is read from
  // all of them by their measured speed, each falling back on the others
  // (content.h, sources.h). Trees come from the first repository, falling
  // back on these.
  std::vector<repo::Repository*> more_repos;
};

struct RestoreResult {
  uint64_t files = 0;    // regular files completely restored, hard links included
  uint64_t dirs = 0;     // directories created below the target
  uint64_t other = 0;    // symlinks, devices, fifos
  uint64_t bytes = 0;    // content bytes written (holes excluded)
  uint64_t errors = 0;   // entries that could not be restored
  uint64_t damaged = 0;  // entries marked damaged in the snapshot
  uint64_t mismatches = 0;  // with verify: entries that differ from the snapshot
  // Per repository (the first, then more_repos): what was read from it.
  std::vector<SourceStats> sources;
};

// Restores snapshot tree `root_tree` (the snapshot's `tree` id: a top tree
// whose one node "." is the backed-up root directory) into `target`, which
// is created if missing. The root's entries go into `target` and its
// metadata onto `target` itself. With a subpath naming a directory, that
// directory takes the root's place; naming anything else, it is restored as
// <target>/<its name>. Entries already in the target are replaced
// (directories are kept and restored into).
//
// Throws Error if nothing can be restored (target not a writable directory,
// top tree unreadable, subpath not in the snapshot), and Error(kNoSpace)
// naming the file when the target fills up: the run stops there, and files
// not completely written do not get their metadata. Per-entry failures
// (missing or damaged blobs, unreadable subtrees, entries that cannot be
// created) are reported through on_error and counted in `errors`; everything
// else is still restored.
//
// Needs the repository's index loaded (Repository::load_index).
RestoreResult run_restore(repo::Repository& repo, const Id& root_tree, const std::string& target,
                          const RestoreOptions& options);

}  // namespace lifeboat::restore
