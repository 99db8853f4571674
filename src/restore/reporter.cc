#include "restore/reporter.h"

#include <cerrno>
#include <ctime>

namespace lifeboat::restore {

void Reporter::error(const std::string& path, const std::string& message) {
  errors.fetch_add(1, std::memory_order_relaxed);
  if (progress_) progress_->errors.fetch_add(1, std::memory_order_relaxed);
  if (item_progress_) item_progress_->errors.fetch_add(1, std::memory_order_relaxed);
  note(path, message);
}

void Reporter::note(const std::string& path, const std::string& message) {
  if (!on_error_) return;
  // Items of a batch share one lock, so the caller's callback never runs
  // twice at once.
  Reporter& top = parent_ ? *parent_ : *this;
  std::lock_guard lock(top.mu_);
  on_error_(path, message);
}

void Reporter::fatal(const Error& error) {
  if (parent_) {
    parent_->fatal(error);
    return;
  }
  std::lock_guard lock(mu_);
  if (!fatal_) fatal_ = std::make_exception_ptr(error);
  aborted_.store(true);
}

void Reporter::rethrow_fatal() {
  if (parent_) {
    parent_->rethrow_fatal();
    return;
  }
  std::exception_ptr e;
  {
    std::lock_guard lock(mu_);
    e = fatal_;
  }
  if (e) std::rethrow_exception(e);
}

void Reporter::add_totals(uint64_t files_total, uint64_t bytes_total) {
  for (RestoreProgress* p : {progress_, item_progress_}) {
    if (!p) continue;
    p->files_total.fetch_add(files_total, std::memory_order_relaxed);
    p->bytes_total.fetch_add(bytes_total, std::memory_order_relaxed);
  }
}

void Reporter::started() {
  if (first_progress_ns_.load(std::memory_order_relaxed) != 0) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t expected = 0;
  first_progress_ns_.compare_exchange_strong(expected,
                                             int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec);
}

void Reporter::file_done() {
  files.fetch_add(1, std::memory_order_relaxed);
  started();
  for (RestoreProgress* p : {progress_, item_progress_})
    if (p) p->files_done.fetch_add(1, std::memory_order_relaxed);
}

void Reporter::bytes_done(uint64_t n) {
  bytes.fetch_add(n, std::memory_order_relaxed);
  started();
  for (RestoreProgress* p : {progress_, item_progress_})
    if (p) p->bytes_done.fetch_add(n, std::memory_order_relaxed);
}

RestoreResult Reporter::result() const {
  RestoreResult r;
  r.files = files.load();
  r.dirs = dirs.load();
  r.other = other.load();
  r.bytes = bytes.load();
  r.errors = errors.load();
  r.damaged = damaged.load();
  return r;
}

bool is_no_space(int err) { return err == ENOSPC || err == EDQUOT; }

}  // namespace lifeboat::restore
