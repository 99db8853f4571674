// Commands run through /bin/sh -c on the operator's behalf (the node
// restore's ready hook, database dumps, the password command): started with
// default signal handling in a process group of their own (so a timeout can
// stop everything they started), stdin from /dev/null, their output kept
// (the last few KiB, for error messages) and optionally logged, and always
// reaped.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lifeboat {

// `text` as one word for /bin/sh, whatever bytes it holds ('it'\''s').
std::string shell_quote(std::string_view text);

struct ShellCommandOptions {
  std::vector<std::string> env;  // added to the environment, "NAME=value"
  // Hand stdout to the caller through stdout_fd() (for streaming it); by
  // default it is treated like stderr.
  bool pipe_stdout = false;
  int log_fd = -1;           // output not piped to the caller is also written here
  size_t tail_bytes = 4096;  // how much of that output to keep for messages
};

class ShellCommand {
 public:
  // Starts `/bin/sh -c command`. Throws Error if it cannot be started.
  ShellCommand(const std::string& command, const ShellCommandOptions& options);
  // Kills the process group and reaps the shell if wait() was not called.
  ~ShellCommand();
  ShellCommand(const ShellCommand&) = delete;
  ShellCommand& operator=(const ShellCommand&) = delete;

  // The read end of stdout with pipe_stdout (owned by this object), else -1.
  int stdout_fd() const { return stdout_fd_; }

  // Waits for the shell to exit; with timeout_seconds > 0, kills its process
  // group once that has passed. Returns "" for exit status 0, otherwise what
  // happened: "exit status 2", "killed by signal 9", "timed out after 30 s".
  std::string wait(int timeout_seconds = 0);

  // The last output (stderr, and stdout unless piped), after wait().
  std::string output_tail() const;

 private:
  void drain(int fd);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool waited_ = false;
  const int log_fd_;
  const size_t tail_bytes_;
  std::thread drainer_;
  std::atomic<bool> stop_draining_{false};
  std::atomic<int64_t> drain_deadline_ns_{0};  // steady clock; 0 = none yet
  mutable std::mutex mu_;
  std::string tail_;  // guarded by mu_
};

}  // namespace lifeboat
