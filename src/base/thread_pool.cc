#include "base/thread_pool.h"

namespace lifeboat {

size_t ThreadPool::default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 2;
}

ThreadPool::ThreadPool(size_t threads, size_t backlog)
    : queue_(backlog ? backlog : 4 * (threads ? threads : default_threads())) {
  if (threads == 0) threads = default_threads();
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() {
  queue_.close();
  for (auto& t : workers_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    ++pending_;
  }
  queue_.push(std::move(task));
}

void ThreadPool::wait() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return pending_ == 0; });
  if (first_error_) {
    auto err = first_error_;
    first_error_ = nullptr;
    std::rethrow_exception(err);
  }
}

void ThreadPool::run() {
  while (auto task = queue_.pop()) {
    try {
      (*task)();
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!first_error_) first_error_ = std::current_exception();
    }
    std::lock_guard lock(mu_);
    if (--pending_ == 0) idle_.notify_all();
  }
}

}  // namespace lifeboat
