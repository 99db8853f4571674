#include "restore/reporter.h"

#include <cerrno>

namespace lifeboat::restore {

void Reporter::error(const std::string& path, const std::string& message) {
  errors.fetch_add(1, std::memory_order_relaxed);
  if (options_.progress) options_.progress->errors.fetch_add(1, std::memory_order_relaxed);
  note(path, message);
}

void Reporter::note(const std::string& path, const std::string& message) {
  if (!options_.on_error) return;
  std::lock_guard lock(mu_);
  options_.on_error(path, message);
}

void Reporter::fatal(const Error& error) {
  std::lock_guard lock(mu_);
  if (!fatal_) fatal_ = std::make_exception_ptr(error);
  aborted_.store(true);
}

void Reporter::rethrow_fatal() {
  std::exception_ptr e;
  {
    std::lock_guard lock(mu_);
    e = fatal_;
  }
  if (e) std::rethrow_exception(e);
}

void Reporter::add_totals(uint64_t files_total, uint64_t bytes_total) {
  if (!options_.progress) return;
  options_.progress->files_total.fetch_add(files_total, std::memory_order_relaxed);
  options_.progress->bytes_total.fetch_add(bytes_total, std::memory_order_relaxed);
}

void Reporter::file_done() {
  files.fetch_add(1, std::memory_order_relaxed);
  if (options_.progress) options_.progress->files_done.fetch_add(1, std::memory_order_relaxed);
}

void Reporter::bytes_done(uint64_t n) {
  bytes.fetch_add(n, std::memory_order_relaxed);
  if (options_.progress) options_.progress->bytes_done.fetch_add(n, std::memory_order_relaxed);
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
