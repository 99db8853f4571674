// Keeps one lock record (repo/lock_records.h) fresh: writes it, renews it
// every interval on a thread of its own by writing the next sequence number
// and removing the previous one, and removes it when destroyed. Shared by
// writer markers and the prune lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "repo/lock_records.h"
#include "repo/repository.h"

namespace lifeboat::repo {

class LockRenewer {
 public:
  // Writes `record` (with sequence 1) before returning; throws what the write throws.
  LockRenewer(Repository& repo, LockRecord record, int64_t renew_every_ns);
  // Stops renewing and removes the record (best effort: append-only storage
  // may refuse, and the record then goes stale).
  ~LockRenewer();
  LockRenewer(const LockRenewer&) = delete;
  LockRenewer& operator=(const LockRenewer&) = delete;

  // Writes the record again now with the changes `edit` makes (not while
  // the renewal thread runs: call before start()).
  template <class Edit>
  void rewrite(Edit&& edit) {
    std::lock_guard lock(write_mu_);
    edit(record_);
    write_next_locked();
  }
  void start();

  // False once two successful writes were further apart than `max_gap_ns`
  // (suspended, cut off): others may have judged the record stale meanwhile,
  // and later renewals do not undo that.
  bool fresh(int64_t max_gap_ns) const;
  // Nanoseconds since the last successful write (CLOCK_BOOTTIME).
  int64_t age() const;
  const LockRecord& record() const { return record_; }

 private:
  void write_next_locked();
  void renew_loop();

  Repository& repo_;
  int64_t renew_every_ns_;
  std::mutex write_mu_;
  LockRecord record_;
  std::string previous_name_;
  std::atomic<int64_t> last_written_{0};
  std::atomic<int64_t> longest_gap_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread renewer_;
};

// Now on CLOCK_BOOTTIME, which keeps counting while the machine is
// suspended: a writer frozen with its VM for an hour sees that hour.
int64_t boot_time_nanos();

}  // namespace lifeboat::repo
