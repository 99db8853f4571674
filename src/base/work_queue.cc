#include "base/work_queue.h"

namespace lifeboat {

WorkQueue::WorkQueue(size_t threads) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkQueue::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (error_) return;  // the run is failing: drop new work
    tasks_.push_back(std::move(task));
  }
  work_cv_.notify_one();
}

void WorkQueue::run_until_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return tasks_.empty() && running_ == 0; });
  if (error_) {
    auto e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void WorkQueue::worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (stopping_) return;
    auto task = std::move(tasks_.back());  // newest first: depth-first walk
    tasks_.pop_back();
    ++running_;
    lock.unlock();
    try {
      task();
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      tasks_.clear();
      lock.unlock();
    }
    lock.lock();
    --running_;
    if (tasks_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace lifeboat
