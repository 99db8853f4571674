#include "repo/lock_renewer.h"

#include <time.h>

#include <algorithm>

#include "base/error.h"

namespace lifeboat::repo {

int64_t boot_time_nanos() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * kSecond + ts.tv_nsec;
}

LockRenewer::LockRenewer(Repository& repo, LockRecord record, int64_t renew_every_ns)
    : repo_(repo), renew_every_ns_(renew_every_ns), record_(std::move(record)) {
  record_.seq = 0;
  std::lock_guard lock(write_mu_);
  write_next_locked();
}

LockRenewer::~LockRenewer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  try {
    repo_.backend().remove({backend::ObjectType::kLock, record_.name()});
  } catch (const Error&) {
  }
}

void LockRenewer::start() { renewer_ = std::thread([this] { renew_loop(); }); }

void LockRenewer::write_next_locked() {
  ++record_.seq;
  record_.time = now_unix_nanos();
  Bytes sealed = encode_lock_record(repo_.keys().encryption, record_);
  repo_.backend().save({backend::ObjectType::kLock, record_.name()}, sealed);
  const int64_t now = boot_time_nanos();
  const int64_t previous = last_written_.exchange(now);
  if (previous != 0) {
    int64_t gap = now - previous;
    int64_t longest = longest_gap_.load();
    while (gap > longest && !longest_gap_.compare_exchange_weak(longest, gap)) {
    }
  }
  if (!previous_name_.empty()) {
    try {
      repo_.backend().remove({backend::ObjectType::kLock, previous_name_});
    } catch (const Error&) {
      // Refused on append-only storage: prune clears superseded records.
    }
  }
  previous_name_ = record_.name();
}

void LockRenewer::renew_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::nanoseconds(renew_every_ns_), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      std::lock_guard wl(write_mu_);
      write_next_locked();
    } catch (const Error& e) {
      // Tried again at the next interval; fresh() turns false if this lasts.
      repo_.warn("could not renew lock record " + record_.name() + " in " + repo_.location() + ": " +
                 e.message());
    }
    lock.lock();
  }
}

int64_t LockRenewer::age() const { return boot_time_nanos() - last_written_.load(); }

bool LockRenewer::fresh(int64_t max_gap_ns) const {
  return longest_gap_.load() <= max_gap_ns && age() <= max_gap_ns;
}

}  // namespace lifeboat::repo
