// The prune lock: one process at a time may delete or rewrite index
// segments (prune, repair index). Writers and readers never look at it
// (law 5); it only keeps two deleters from undoing each other's work.
#pragma once

#include <memory>
#include <string>

#include "repo/lock_records.h"
#include "repo/lock_renewer.h"
#include "repo/repository.h"

namespace lifeboat::prune {

// "node backup web209 (host, pid 4711, since 2026-...)".
std::string describe_lock_holder(const repo::LockRecord& r);

class PruneLock {
 public:
  // Writes the lock record, then looks for another holder's fresh record;
  // throws Error(kAlreadyExists) naming it (and removes ours) if there is
  // one. Of two taking it at once, both may stop: safe, and rare.
  PruneLock(repo::Repository& repo, std::string what,
            int64_t stale_after_ns = repo::kMarkerStaleAfter);
  const std::string& run() const { return renewer_->record().run; }

 private:
  std::unique_ptr<repo::LockRenewer> renewer_;
};

}  // namespace lifeboat::prune
