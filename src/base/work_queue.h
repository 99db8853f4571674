// A pool of threads running tasks that may submit further tasks (a parallel
// tree walk). Unlike ThreadPool, submit never blocks, so a worker submitting
// children can never deadlock the pool; callers bound memory by the shape of
// the work (a depth-first order: tasks are taken newest first).
//
// Thread-safe. run_until_idle() returns once no task is queued or running,
// rethrowing the first exception a task threw (remaining tasks are dropped).
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lifeboat {

class WorkQueue {
 public:
  explicit WorkQueue(size_t threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void submit(std::function<void()> task);
  void run_until_idle();

 private:
  void worker();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> tasks_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace lifeboat
