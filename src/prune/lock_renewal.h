// Renewing retention locks (S3 Object Lock) on what a repository keeps.
//
// A retention counts from each object's upload. Deduplication makes today's
// snapshots rely on packs uploaded long ago, whose retention may already
// have run out: an attacker holding the administrator's credentials could
// then delete such a pack and destroy today's snapshot, which the tier was
// meant to protect. prune, which knows what stays, renews the retention of
// everything that does (packs still needed, index segments, snapshots, keys,
// config) once less than half the lock period is left, so an object in use
// is never less than half a period away from its lock's end — as long as
// prune runs at least every half period (docs/OPERATIONS.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace lifeboat::prune {

struct LockRenewal {
  uint64_t checked = 0;  // objects whose retention was read
  uint64_t renewed = 0;  // objects whose retention was set again
  uint64_t failed = 0;   // objects that could not be checked or renewed (warned about)
};

// Renews, `threads` at a time, the locks of `objects` that end within half
// of backend.lock_period_seconds(). Nothing (all zeros) where the backend
// locks nothing. An object gone meanwhile (a concurrent forget) is skipped;
// any other failure is passed to `warn`, naming the object, and counted.
// Storage that stays unreachable stops the renewal at the first such
// failure (one warning; the rest count as failed).
LockRenewal renew_locks(backend::Backend& backend, const std::vector<backend::Handle>& objects,
                        const std::function<void(const std::string&)>& warn, size_t threads = 16);

// Every object of the repository but packs and locks: index segments,
// snapshots, keys and the config, as listed now.
std::vector<backend::Handle> metadata_objects(backend::Backend& backend);

}  // namespace lifeboat::prune
