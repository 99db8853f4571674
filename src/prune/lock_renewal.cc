#include "prune/lock_renewal.h"

#include <atomic>
#include <mutex>

#include "base/error.h"
#include "base/thread_pool.h"

namespace lifeboat::prune {

using backend::Handle;
using backend::ObjectType;

LockRenewal renew_locks(backend::Backend& backend, const std::vector<Handle>& objects,
                        const std::function<void(const std::string&)>& warn, size_t threads) {
  LockRenewal out;
  const int64_t period = backend.lock_period_seconds();
  if (period <= 0 || objects.empty()) return out;
  std::atomic<uint64_t> checked{0}, renewed{0}, failed{0};
  // Unreachable storage (retries exhausted) fails every object the same
  // way, each after its own retries: stop at the first, warn once, and let
  // the next prune try again, instead of retrying thousands of objects.
  std::atomic<bool> unreachable{false};
  std::mutex warn_mu;
  ThreadPool pool(std::min(threads, objects.size()));
  for (const Handle& h : objects) {
    pool.submit([&, h] {
      if (unreachable) {
        ++failed;
        return;
      }
      try {
        if (backend.renew_lock(h, period / 2)) ++renewed;
        ++checked;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound) return;  // forgotten or pruned meanwhile
        ++failed;
        if (e.retryable() && unreachable.exchange(true)) return;  // warned already
        std::lock_guard lock(warn_mu);
        if (warn)
          warn("the retention of " + h.describe() + " in " + backend.location() +
               " could not be renewed (" + e.message() + ")" +
               (e.retryable() ? "; renewal stopped there" : "") + "; the next prune tries again");
      }
    });
  }
  pool.wait();
  out.checked = checked;
  out.renewed = renewed;
  out.failed = failed;
  return out;
}

std::vector<Handle> metadata_objects(backend::Backend& backend) {
  std::vector<Handle> out{{ObjectType::kConfig, "config"}};
  for (ObjectType type : {ObjectType::kIndex, ObjectType::kSnapshot, ObjectType::kKey})
    backend.list(type, [&](std::string_view name, uint64_t) { out.push_back({type, std::string(name)}); });
  return out;
}

}  // namespace lifeboat::prune
