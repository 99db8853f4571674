#include "cli/progress.h"

#include <unistd.h>

#include <fmt/format.h>

namespace lifeboat::cli {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(250);

double elapsed_seconds(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// The common part of backup and restore status lines.
std::string render(uint64_t files_done, uint64_t files_total, uint64_t bytes_done,
                   uint64_t bytes_total, uint64_t errors, bool totals_final, double elapsed) {
  double rate = elapsed > 0.2 ? static_cast<double>(bytes_done) / elapsed : 0;
  std::string line = fmt::format("files {}/{}{}  bytes {}/{}  {:.1f} MiB/s", files_done,
                                 files_total, totals_final ? "" : "+", format_bytes(bytes_done),
                                 format_bytes(bytes_total), rate / (1024 * 1024));
  if (totals_final && rate > 0 && bytes_total >= bytes_done)
    line += "  ETA " + format_eta(static_cast<double>(bytes_total - bytes_done) / rate);
  if (errors > 0) line += fmt::format("  errors {}", errors);
  return line;
}

}  // namespace

std::string format_eta(double seconds) {
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

std::string render_node_backup_status(const node::NodeBackupProgress& p,
                                      std::chrono::steady_clock::time_point started) {
  const node::NodeBackupProgress::View v = p.view();
  const double elapsed = elapsed_seconds(started);
  const double rate = elapsed > 0.2 ? static_cast<double>(v.bytes) / elapsed : 0;
  std::string line = fmt::format("accounts {}/{}  files {}  bytes {}  {:.1f} MiB/s",
                                 v.accounts_done, v.accounts_total, v.files,
                                 format_bytes(v.bytes), rate / (1024 * 1024));
  // The ETA is an estimate from the accounts' previous snapshots.
  if (v.bytes_expected > v.bytes && rate > 0)
    line += "  ETA ~" + format_eta(static_cast<double>(v.bytes_expected - v.bytes) / rate);
  if (v.errors > 0) line += fmt::format("  errors {}", v.errors);
  for (size_t i = 0; i < v.running.size() && i < 3; ++i)
    line += fmt::format("{} {} {}", i == 0 ? "  now:" : ",", printable(v.running[i].first),
                        format_bytes(v.running[i].second));
  return line;
}

bool progress_wanted(const GlobalOptions& g) {
  return !g.quiet && !g.json && ::isatty(STDERR_FILENO);
}

StatusLine::StatusLine(bool enabled, std::function<std::string()> render)
    : render_(std::move(render)) {
  if (enabled) thread_ = std::thread([this] { loop(); });
}

StatusLine::~StatusLine() { stop(); }

void StatusLine::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    clear_status_line();
  }
}

void StatusLine::loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kRedrawInterval, [&] { return stopping_; })) {
    std::string line = render_();
    lock.unlock();
    draw_status_line(line);
    lock.lock();
  }
}

std::string render_backup_status(const backup::BackupProgress& p,
                                 std::chrono::steady_clock::time_point started) {
  return render(p.files_done.load(), p.files_seen.load(), p.bytes_done.load(),
                p.bytes_seen.load(), p.errors.load(), p.walk_finished.load(),
                elapsed_seconds(started));
}

std::string render_restore_status(const restore::RestoreProgress& p,
                                  std::chrono::steady_clock::time_point started) {
  uint64_t bytes_total = p.bytes_total.load();
  return render(p.files_done.load(), p.files_total.load(), p.bytes_done.load(), bytes_total,
                p.errors.load(), bytes_total > 0 || p.files_total.load() > 0,
                elapsed_seconds(started));
}

std::string render_copy_status(const copy::CopyProgress& p,
                               std::chrono::steady_clock::time_point started) {
  const double elapsed = elapsed_seconds(started);
  const uint64_t stored = p.sent.bytes_stored.load();
  const double rate = elapsed > 0.2 ? static_cast<double>(stored) / elapsed : 0;
  return fmt::format("snapshots {}/{}  trees {}  sent {} blobs {}  {:.1f} MiB/s",
                     p.snapshots_done.load(), p.snapshots_total.load(), p.trees_walked.load(),
                     p.sent.blobs.load(), format_bytes(stored), rate / (1024 * 1024));
}

}  // namespace lifeboat::cli
