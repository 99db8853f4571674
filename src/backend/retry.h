// The retry schedule every remote backend shares: a few attempts for
// transient failures, with exponential backoff and jitter in between, so
// many clients that failed together do not retry in step.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace lifeboat::backend {

struct RetryOptions {
  int attempts = 5;  // tries per operation for transient failures
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

// The waits between the attempts of one operation.
class Backoff {
 public:
  explicit Backoff(const RetryOptions& options) : next_(options.first_backoff), max_(options.max_backoff) {}

  // Sleeps a random time in [next/2, next], then doubles next (up to the maximum).
  void wait() {
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<int64_t> jitter(next_.count() / 2, next_.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    next_ = std::min(max_, next_ * 2);
  }

 private:
  std::chrono::milliseconds next_, max_;
};

}  // namespace lifeboat::backend
