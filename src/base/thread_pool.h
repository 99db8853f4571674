// A fixed set of worker threads running submitted tasks, with a bounded
// backlog (submit blocks when the backlog is full, so producers slow down
// instead of queueing unbounded memory).
//
// Thread-safe. The first exception thrown by a task is kept and rethrown by
// wait(); later tasks still run (callers decide whether to stop early).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/bounded_queue.h"

namespace lifeboat {

class ThreadPool {
 public:
  // threads == 0 means one per hardware thread.
  explicit ThreadPool(size_t threads = 0, size_t backlog = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> task);
  // Waits until every submitted task has finished; rethrows the first error.
  void wait();
  size_t size() const { return workers_.size(); }

  static size_t default_threads();

 private:
  void run();

  BoundedQueue<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t pending_ = 0;
  std::exception_ptr first_error_;
};

}  // namespace lifeboat
