// What one restore run tells the outside world: per-entry errors (through
// RestoreOptions::on_error), live progress, the result counters, and the one
// fatal error (a full disk) that stops the whole run.
//
// Thread-safe. on_error is called under a mutex, so callers' callbacks need
// not be thread-safe themselves.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <string>

#include "base/error.h"
#include "restore/restorer.h"

namespace lifeboat::restore {

class Reporter {
 public:
  explicit Reporter(const RestoreOptions& options) : options_(options) {}

  // An entry could not be restored (or not completely): reported and counted.
  void error(const std::string& path, const std::string& message);
  // Reported without counting (the entry was already counted once).
  void note(const std::string& path, const std::string& message);

  // Stops the run: everything in flight winds down and run_restore throws
  // `error` (the first one wins).
  void fatal(const Error& error);
  bool aborted() const { return aborted_.load(std::memory_order_relaxed); }
  // Throws the fatal error, if there was one.
  void rethrow_fatal();

  // Progress (no-ops without a RestoreProgress).
  void add_totals(uint64_t files, uint64_t bytes);
  void file_done();
  void bytes_done(uint64_t n);

  // Result counters.
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> other{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> damaged{0};

  RestoreResult result() const;

 private:
  const RestoreOptions& options_;
  std::mutex mu_;  // serializes on_error and guards fatal_
  std::exception_ptr fatal_;
  std::atomic<bool> aborted_{false};
};

// True for errno values that mean the target filesystem is full: the restore
// stops instead of failing every remaining file one by one.
bool is_no_space(int err);

}  // namespace lifeboat::restore
