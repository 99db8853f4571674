// What one restore run tells the outside world: per-entry errors (through
// RestoreOptions::on_error), live progress, the result counters, and the one
// fatal error (a full disk) that stops the whole run.
//
// A batch (several snapshots restored at once, batch.h) has one Reporter per
// item for its counters and messages, each with the batch's Reporter as
// parent: a fatal error anywhere stops them all.
//
// Thread-safe. on_error is called under a mutex, so callers' callbacks need
// not be thread-safe themselves.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

#include "base/error.h"
#include "restore/restorer.h"

namespace lifeboat::restore {

class Reporter {
 public:
  using ErrorFn = std::function<void(const std::string& path, const std::string& message)>;
  explicit Reporter(const RestoreOptions& options)
      : on_error_(options.on_error), progress_(options.progress) {}
  // An item of a batch: counts for itself, also feeds `item_progress`,
  // and shares fatal errors with `parent`.
  Reporter(ErrorFn on_error, RestoreProgress* progress, RestoreProgress* item_progress,
           Reporter* parent)
      : on_error_(std::move(on_error)),
        progress_(progress),
        item_progress_(item_progress),
        parent_(parent) {}

  // An entry could not be restored (or not completely): reported and counted.
  void error(const std::string& path, const std::string& message);
  // Reported without counting (the entry was already counted once).
  void note(const std::string& path, const std::string& message);

  // Stops the run: everything in flight winds down and run_restore throws
  // `error` (the first one wins).
  void fatal(const Error& error);
  bool aborted() const {
    return parent_ ? parent_->aborted() : aborted_.load(std::memory_order_relaxed);
  }
  // Throws the fatal error, if there was one.
  void rethrow_fatal();

  // Progress (no-ops without a RestoreProgress).
  void add_totals(uint64_t files, uint64_t bytes);
  void file_done();
  void bytes_done(uint64_t n);

  // When this reporter first counted written bytes or a finished file
  // (CLOCK_REALTIME ns; 0 = not yet).
  int64_t first_progress_ns() const { return first_progress_ns_.load(); }

  // Result counters.
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> other{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> damaged{0};

  RestoreResult result() const;

 private:
  void started();

  const ErrorFn on_error_;
  RestoreProgress* const progress_;
  RestoreProgress* const item_progress_ = nullptr;
  Reporter* const parent_ = nullptr;
  std::atomic<int64_t> first_progress_ns_{0};
  std::mutex mu_;  // serializes on_error and guards fatal_
  std::exception_ptr fatal_;
  std::atomic<bool> aborted_{false};
};

// True for errno values that mean the target filesystem is full: the restore
// stops instead of failing every remaining file one by one.
bool is_no_space(int err);

}  // namespace lifeboat::restore
