// Retrying repository reads that fail transiently (Error::retryable(), i.e.
// kUnavailable): a dropped connection must not cost a restore its files.
#pragma once

#include <chrono>
#include <thread>

#include "base/error.h"

namespace lifeboat::restore {

struct RetryPolicy {
  int attempts = 3;
  std::chrono::milliseconds delay{200};  // times the attempt number
};

// Calls fn() until it returns or throws a non-retryable error, at most
// policy.attempts times; the last error is rethrown.
template <typename Fn>
auto with_retries(const RetryPolicy& policy, Fn&& fn) -> decltype(fn()) {
  for (int attempt = 1;; ++attempt) {
    try {
      return fn();
    } catch (const Error& e) {
      if (!e.retryable() || attempt >= policy.attempts) throw;
    }
    std::this_thread::sleep_for(policy.delay * attempt);
  }
}

}  // namespace lifeboat::restore
