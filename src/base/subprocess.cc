#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "base/error.h"

extern char** environ;

namespace lifeboat {
namespace {

// How long output is still read once the shell has exited: a daemon it
// started may hold the pipe open forever.
constexpr int kDrainAfterExitMs = 1000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with status " + std::to_string(status);
}

void write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a log that cannot be written must not stop the command
    data += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

ShellCommand::ShellCommand(const std::string& command, const ShellCommandOptions& options)
    : log_fd_(options.log_fd), tail_bytes_(options.tail_bytes) {
  int out_pipe[2] = {-1, -1};
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("create a pipe for '" + command + "'");
  if (options.pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    throw_errno("create a pipe for '" + command + "'", err);
  }

  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) env_strings.emplace_back(*e);
  for (const std::string& extra : options.env) {
    const std::string name = extra.substr(0, extra.find('=') + 1);
    std::erase_if(env_strings, [&](const std::string& s) { return s.rfind(name, 0) == 0; });
    env_strings.push_back(extra);
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, options.pipe_stdout ? out_pipe[1] : err_pipe[1],
                                   STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own: a timeout stops it all
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  int rc = posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char**>(argv), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(err_pipe[1]);
  if (options.pipe_stdout) ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    if (options.pipe_stdout) ::close(out_pipe[0]);
    throw Error(error_code_from_errno(rc),
                "cannot run '" + command + "' with /bin/sh: " + std::strerror(rc));
  }
  stdout_fd_ = options.pipe_stdout ? out_pipe[0] : -1;
  const int err_fd = err_pipe[0];
  drainer_ = std::thread([this, err_fd] { drain(err_fd); });
}

ShellCommand::~ShellCommand() {
  if (!waited_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  stop_draining_ = true;
  if (drainer_.joinable()) drainer_.join();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ShellCommand::drain(int fd) {
  char buf[4096];
  for (;;) {
    const int64_t deadline = drain_deadline_ns_.load();
    if (stop_draining_ || (deadline != 0 && now_ns() > deadline)) break;
    struct pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 50);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (log_fd_ >= 0) write_all(log_fd_, buf, static_cast<size_t>(n));
    std::lock_guard lock(mu_);
    tail_.append(buf, static_cast<size_t>(n));
    if (tail_.size() > 2 * tail_bytes_) tail_.erase(0, tail_.size() - tail_bytes_);
  }
  ::close(fd);
}

std::string ShellCommand::wait(int timeout_seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  std::string result;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, timeout_seconds > 0 ? WNOHANG : 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_) {
      result = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : describe(status);
      break;
    }
    if (r < 0) {
      result = std::string("cannot wait for it: ") + std::strerror(errno);
      break;
    }
    if (Clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      result = "timed out after " + std::to_string(timeout_seconds) + " s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  waited_ = true;
  // Output still buffered in the pipe is read; a pipe held open by something
  // the command left running is given up on after a moment.
  drain_deadline_ns_ = now_ns() + int64_t{kDrainAfterExitMs} * 1000000;
  if (drainer_.joinable()) drainer_.join();
  return result;
}

std::string ShellCommand::output_tail() const {
  std::lock_guard lock(mu_);
  if (tail_.size() <= tail_bytes_) return tail_;
  return tail_.substr(tail_.size() - tail_bytes_);
}

}  // namespace lifeboat
