#include "prune/prune_lock.h"

#include "base/error.h"

namespace lifeboat::prune {

std::string describe_lock_holder(const repo::LockRecord& r) {
  return (r.what.empty() ? std::string("a writer") : r.what) + " (" + r.host + ", pid " +
         std::to_string(r.pid) + ", since " + format_rfc3339(r.started) + ")";
}

PruneLock::PruneLock(repo::Repository& repo, std::string what, int64_t stale_after_ns) {
  repo::LockRecord r;
  r.kind = repo::LockKind::kPrune;
  r.run = repo::new_run_id();
  r.what = std::move(what);
  r.started = now_unix_nanos();
  repo::fill_process_identity(r);
  renewer_ = std::make_unique<repo::LockRenewer>(repo, std::move(r), repo::kMarkerRenewEvery);
  repo::LockDirectory dir = repo::read_lock_directory(repo.backend(), repo.keys().encryption);
  const UnixNanos now = now_unix_nanos();
  for (const auto& other : dir.latest(repo::LockKind::kPrune)) {
    if (other.run == run() || repo::lock_record_stale(other, now, stale_after_ns)) continue;
    renewer_.reset();
    throw Error(ErrorCode::kAlreadyExists,
                (other.what.empty() ? std::string("another prune") : other.what) + " is running on " + repo.location() + ": " + describe_lock_holder(other) +
                    "; try again when it has finished (one killed on another host holds the lock "
                    "for up to an hour)");
  }
  renewer_->start();
}

}  // namespace lifeboat::prune
