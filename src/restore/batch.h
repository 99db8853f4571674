// A batch restore: several snapshots (a node's accounts) restored at once,
// each into its own directory under one target, through one plan and one
// content pass, so a blob that many items contain is fetched once for the
// whole batch and written everywhere it is needed.
//
// Items are ranked by their position: content is fetched in that order (a
// blob goes with the first item that needs it), so the first items complete
// first, while every fetcher and worker serves whatever is next, whichever
// item it belongs to (a big item's files are restored in parallel like any
// other's). As soon as an item's last file is complete it is finished on
// its own: hard links, metadata of its special files and directories, then
// (optionally) verification against the snapshot, then on_item_done. Items
// never wait for each other.
//
// run_restore (restorer.h) is a batch of one item restored into the target
// itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "restore/restorer.h"

namespace lifeboat::restore {

struct BatchItem {
  // Directory under the target the item is restored into; "" restores into
  // the target itself (then it must be the only item).
  std::string name;
  Id tree;  // the snapshot's `tree`
};

struct ItemResult {
  RestoreResult counts;
  uint64_t files_total = 0;    // regular files and hard links planned
  uint64_t bytes_total = 0;    // content bytes planned
  uint64_t files_kept = 0;     // already complete in the target (keep_complete_files)
  bool verified = false;       // verification ran and found nothing wrong
  uint64_t mismatches = 0;     // entries verification found different from the snapshot
  int64_t started_ns = 0;      // first content written (or first file done); 0 = none
  int64_t restored_ns = 0;     // its last file complete (before links, metadata, verification)
  int64_t finished_ns = 0;     // finished (and verified)
  std::exception_ptr failure;  // nothing of it could be restored (its tree is unreadable)
  std::string failure_message;
  // Restored exactly: planned, no entry failed, verification (if asked) clean.
  bool ok() const { return !failure && counts.errors == 0 && mismatches == 0; }
};

// Live view of a batch for progress displays. Construct with the number of
// items and pass it in; `total` and every items[i] fill as the run goes.
struct BatchProgress {
  enum Phase : int { kWaiting = 0, kPlanned, kFinishing, kDone };
  explicit BatchProgress(size_t n)
      : size(n), items(new RestoreProgress[n]), phases(new std::atomic<int>[n]) {
    for (size_t i = 0; i < n; ++i) phases[i] = kWaiting;
  }
  const size_t size;
  RestoreProgress total;
  std::unique_ptr<RestoreProgress[]> items;
  std::unique_ptr<std::atomic<int>[]> phases;
  std::atomic<bool> planned{false};  // every item planned; content is flowing
  std::atomic<uint64_t> bytes_fetched{0};  // read from the repository (set at the end)
};

struct BatchOptions {
  // Filters, threads, owners, verify, keep_complete_files. Its on_error is
  // not used (see below); its progress gets the batch's totals unless a
  // BatchProgress is given.
  RestoreOptions restore;
  // Per-entry trouble, with the item it belongs to. Serialized.
  std::function<void(size_t item, const std::string& path, const std::string& message)> on_error;
  // An item is finished (restored, metadata applied, verified if asked).
  // Called from finisher threads, for different items possibly at once.
  std::function<void(size_t item, const ItemResult& result)> on_item_done;
  BatchProgress* progress = nullptr;
  // If given, receives what was read from each repository (the one passed
  // to run_batch, then restore.more_repos) when the batch is through.
  std::vector<SourceStats>* source_stats = nullptr;
};

// Restores every item. Returns their results in item order. Throws only for
// what stops the whole batch: a target that is not a writable directory, a
// full disk (Error(kNoSpace) naming the file; items not finished by then get
// no on_item_done). Needs the repository's index loaded.
std::vector<ItemResult> run_batch(repo::Repository& repo, const std::string& target,
                                  const std::vector<BatchItem>& items,
                                  const BatchOptions& options);

}  // namespace lifeboat::restore
