// Progress on the terminal: one status line on stderr, redrawn by a
// background thread every ~250 ms with '\r', cleared when the work ends.
// Shown only when stderr is a terminal and neither --quiet nor --json is
// given; otherwise nothing is drawn and no thread is started.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "backup/archiver.h"
#include "cli/common.h"
#include "copy/copier.h"
#include "node/node_backup.h"
#include "restore/restorer.h"

namespace lifeboat::cli {

bool progress_wanted(const GlobalOptions& g);

// "mm:ss" or "h:mm:ss".
std::string format_eta(double seconds);

class StatusLine {
 public:
  // `render` is called on the status thread and must only read atomics.
  StatusLine(bool enabled, std::function<std::string()> render);
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  // Stops redrawing and clears the line. Idempotent.
  void stop();

 private:
  void loop();

  std::function<std::string()> render_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// "files N/M  bytes X/Y  R MiB/s  ETA mm:ss" (ETA once the walk is done).
std::string render_backup_status(const backup::BackupProgress& p,
                                 std::chrono::steady_clock::time_point started);
// "accounts 5/12  files N  bytes X  R MiB/s  ETA ~mm:ss  now: alice 120 MiB, bob 3 MiB".
std::string render_node_backup_status(const node::NodeBackupProgress& p,
                                      std::chrono::steady_clock::time_point started);
// "files N/M  bytes X/Y  R MiB/s  ETA mm:ss".
std::string render_restore_status(const restore::RestoreProgress& p,
                                  std::chrono::steady_clock::time_point started);

// "snapshots 3/10  trees N  sent N blobs X  R MiB/s" (no ETA: what a
// snapshot lacks is known only once its trees are walked).
std::string render_copy_status(const copy::CopyProgress& p,
                               std::chrono::steady_clock::time_point started);

}  // namespace lifeboat::cli
