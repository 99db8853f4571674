// Runs one command line with /bin/sh -c and hands its stdout to the caller
// as a ByteStream (a pipe, read as the command writes: nothing is buffered
// beyond the pipe and the caller's own buffer).
//
// Not thread-safe: one thread reads and finishes a command; different
// commands may run on different threads at once (every pipe end lifeboat
// opens is close-on-exec, so no child inherits another's pipe).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_stream.h"

namespace lifeboat {

class ShellCommand final : public ByteStream {
 public:
  enum class Mode {
    // For background jobs (database dumps): stdin is /dev/null, stderr is
    // captured (its last kStderrTail bytes are kept for the error message),
    // the environment lacks LIFEBOAT_PASSWORD, and the command runs in its
    // own process group, so a command that is abandoned is killed with
    // everything it started (`sh -c 'a | b'`).
    kIsolated,
    // For commands that may need the user's terminal (a password prompt):
    // stdin, stderr and the process group are lifeboat's own.
    kInteractive,
  };
  static constexpr size_t kStderrTail = 4096;

  // Starts `/bin/sh -c command` with default signal handling and an empty
  // signal mask. `what` names the command in errors ("dump of database x").
  // `extra_env` ("NAME=value") is added to (or replaces in) the environment.
  // Throws Error(kIo) if it cannot be started.
  ShellCommand(const std::string& command, std::string what, Mode mode = Mode::kIsolated,
               const std::vector<std::string>& extra_env = {});
  // A command that has not been finished is killed (SIGKILL to its process
  // group in kIsolated mode, to the shell otherwise) and reaped.
  ~ShellCommand() override;
  ShellCommand(const ShellCommand&) = delete;
  ShellCommand& operator=(const ShellCommand&) = delete;

  // ByteStream. read() drains stderr meanwhile, so a command that writes a
  // lot to stderr never blocks on it.
  size_t read(uint8_t* dst, size_t n) override;
  // Waits for the command (closing its stdout first if it was not read to
  // the end) and throws Error(kIo) "<what> failed (exit status 2): <stderr
  // tail>" unless it exited with status 0.
  void finish() override;

  // Reads stdout to the end and returns its first `keep` bytes (the rest is
  // read and dropped, so the command is never blocked on a full pipe).
  std::string read_to_end(size_t keep);
  // Waits for the command like finish() and returns its wait status
  // without judging it.
  int wait();

  // For commands whose output is only for the record (the node restore's
  // ready hook; kIsolated): runs the command to its end, passing everything
  // it writes to stdout or stderr to `sink` (and keeping the tail of both
  // for stderr_tail()). After `timeout_seconds` (0 = none) its process
  // group is killed. Returns the wait status; `timed_out` says whether it
  // was killed for taking too long. Output still held open by something
  // the command left running is not waited for.
  int run_to_end(int timeout_seconds, const std::function<void(std::string_view)>& sink,
                 bool& timed_out);

  // The last kStderrTail bytes of stderr, on one line (kIsolated only).
  std::string stderr_tail() const;
  pid_t pid() const { return pid_; }

  // "exit status 2", "killed by signal 9 (Killed)".
  static std::string describe_status(int wait_status);

  // Kills (SIGKILL) the process group of every kIsolated command that has
  // not been waited for: called when lifeboat is interrupted and exits, so
  // no dump keeps running (e.g. blocked in a query) after it. Thread-safe.
  static void kill_all();

 private:
  void drain_stderr();
  // Reads what is available on `fd` (non-blocking) into the stderr tail and
  // `sink`; closes it at its end.
  void drain(int& fd, const std::function<void(std::string_view)>& sink);
  void close_stdout();
  void forget_group();
  bool exited(bool block);
  void reap();

  std::string what_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string err_tail_;  // at most 2 x kStderrTail, trimmed to kStderrTail
};

}  // namespace lifeboat
