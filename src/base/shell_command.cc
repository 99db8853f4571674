#include "base/shell_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "base/error.h"

extern char** environ;

namespace lifeboat {

namespace {

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  int take(int end) { return std::exchange(fds[end], -1); }
};

// Both ends close-on-exec (the child gets its end through dup2, which
// clears the flag); our end non-blocking, because we poll it.
void make_pipe(Pipe& p, const std::string& what) {
  if (::pipe2(p.fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for " + what);
  ::fcntl(p.fds[0], F_SETFL, ::fcntl(p.fds[0], F_GETFL) | O_NONBLOCK);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Process groups of isolated commands still running, for kill_all().
std::mutex g_groups_mu;
std::set<pid_t>& groups() {
  static std::set<pid_t> g;
  return g;
}

}  // namespace

ShellCommand::ShellCommand(const std::string& command, std::string what, Mode mode,
                           const std::vector<std::string>& extra_env)
    : what_(std::move(what)) {
  Pipe out, err;
  make_pipe(out, what_);
  const bool isolated = mode == Mode::kIsolated;
  if (isolated) make_pipe(err, what_);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], STDOUT_FILENO);
  if (isolated) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, err.fds[1], STDERR_FILENO);
  }
  // The CLI blocks SIGINT/SIGTERM in its threads and may ignore SIGPIPE;
  // the command gets the defaults, so it stops when its reader goes away.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (isolated) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  // A background command (a dump) has no business with the repository
  // password, and a child's environment is easy to read (/proc/PID/environ).
  std::vector<char*> env;
  auto replaced = [&](const char* e) {
    for (const std::string& x : extra_env) {
      const size_t eq = x.find('=');
      if (eq != std::string::npos && std::strncmp(e, x.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e)
    if ((!isolated || std::strncmp(*e, "LIFEBOAT_PASSWORD=", 18) != 0) && !replaced(*e))
      env.push_back(*e);
  for (const std::string& x : extra_env) env.push_back(const_cast<char*>(x.c_str()));
  env.push_back(nullptr);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  int rc = ::posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char**>(argv), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error(ErrorCode::kIo, "cannot start " + what_ + ": " + strerror(rc));
  own_group_ = isolated;
  if (isolated) {
    std::lock_guard lock(g_groups_mu);
    groups().insert(pid_);
  }
  out_fd_ = out.take(0);
  err_fd_ = isolated ? err.take(0) : -1;
}

ShellCommand::~ShellCommand() {
  close_fd(out_fd_);
  close_fd(err_fd_);
  if (reaped_ || pid_ <= 0) return;
  ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
  forget_group();
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void ShellCommand::forget_group() {
  if (!own_group_) return;
  std::lock_guard lock(g_groups_mu);
  groups().erase(pid_);
}

void ShellCommand::kill_all() {
  std::lock_guard lock(g_groups_mu);
  for (pid_t group : groups()) ::kill(-group, SIGKILL);
}

void ShellCommand::drain_stderr() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n > 0) {
      err_tail_.append(buf, static_cast<size_t>(n));
      if (err_tail_.size() > 2 * kStderrTail) err_tail_.erase(0, err_tail_.size() - kStderrTail);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) close_fd(err_fd_);  // end of stderr
    return;                         // EAGAIN: nothing more for now
  }
}

size_t ShellCommand::read(uint8_t* dst, size_t n) {
  if (out_fd_ < 0) return 0;
  for (;;) {
    ssize_t got = ::read(out_fd_, dst, n);
    if (got > 0) return static_cast<size_t>(got);
    if (got == 0) {
      close_fd(out_fd_);
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno("cannot read the output of " + what_);
    // Nothing yet: wait for stdout, and keep stderr flowing meanwhile.
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    int nfds = err_fd_ >= 0 ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0 && errno != EINTR)
      throw_errno("cannot wait for the output of " + what_);
    if (nfds == 2 && fds[1].revents != 0) drain_stderr();
  }
}

std::string ShellCommand::read_to_end(size_t keep) {
  std::string out;
  uint8_t buf[16384];
  while (size_t n = read(buf, sizeof buf))
    if (out.size() < keep) out.append(reinterpret_cast<char*>(buf), std::min(n, keep - out.size()));
  return out;
}

void ShellCommand::close_stdout() { close_fd(out_fd_); }

int ShellCommand::wait() {
  if (reaped_) return status_;
  close_stdout();  // a command still writing gets SIGPIPE rather than blocking forever
  // Read stderr to its end, but stop at the command's exit: something it
  // left running in the background may hold stderr open much longer.
  while (err_fd_ >= 0) {
    pollfd fd{err_fd_, POLLIN, 0};
    if (::poll(&fd, 1, 100) > 0) drain_stderr();
    if (err_fd_ >= 0 && exited(false)) {
      drain_stderr();
      close_fd(err_fd_);
    }
  }
  exited(true);
  reap();
  return status_;
}

void ShellCommand::drain(int& fd, const std::function<void(std::string_view)>& sink) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      sink(std::string_view(buf, static_cast<size_t>(n)));
      err_tail_.append(buf, static_cast<size_t>(n));
      if (err_tail_.size() > 2 * kStderrTail) err_tail_.erase(0, err_tail_.size() - kStderrTail);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) close_fd(fd);
    return;  // EAGAIN: nothing more for now
  }
}

int ShellCommand::run_to_end(int timeout_seconds,
                             const std::function<void(std::string_view)>& sink, bool& timed_out) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  timed_out = false;
  while (!exited(false)) {
    pollfd fds[2];
    nfds_t n = 0;
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    if (n > 0) {
      if (::poll(fds, n, 100) > 0) {
        if (out_fd_ >= 0) drain(out_fd_, sink);
        if (err_fd_ >= 0) drain(err_fd_, sink);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (timeout_seconds > 0 && !timed_out && Clock::now() >= deadline) {
      ::kill(own_group_ ? -pid_ : pid_, SIGKILL);  // not reaped yet: still ours
      timed_out = true;
    }
  }
  for (int* fd : {&out_fd_, &err_fd_})
    if (*fd >= 0) {
      drain(*fd, sink);
      close_fd(*fd);
    }
  reap();
  return status_;
}

// Whether the command has exited, without reaping it: its pid (and process
// group id) stay ours until reap(), so kill_all() can never hit a stranger.
bool ShellCommand::exited(bool block) {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info,
                 WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) == 0)
      return info.si_pid == pid_;
    if (errno != EINTR) throw_errno("cannot wait for " + what_);
  }
}

void ShellCommand::reap() {
  forget_group();
  while (::waitpid(pid_, &status_, 0) < 0)
    if (errno != EINTR) throw_errno("cannot wait for " + what_);
  reaped_ = true;
}

void ShellCommand::finish() {
  int status = wait();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string message = what_ + " failed (" + describe_status(status) + ")";
  std::string tail = stderr_tail();
  if (!tail.empty()) message += ": " + tail;
  throw Error(ErrorCode::kIo, message);
}

std::string ShellCommand::stderr_tail() const {
  std::string_view t = err_tail_;
  if (t.size() > kStderrTail) {
    t.remove_prefix(t.size() - kStderrTail);
    // Start where a UTF-8 sequence starts, so the message stays valid text.
    while (!t.empty() && (static_cast<unsigned char>(t.front()) & 0xC0) == 0x80) t.remove_prefix(1);
  }
  auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!t.empty() && blank(t.front())) t.remove_prefix(1);
  while (!t.empty() && blank(t.back())) t.remove_suffix(1);
  // One line: the message ends up in a one-line error.
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (c == '\n')
      out += " | ";
    else
      out += c == '\r' || c == '\t' ? ' ' : c;
  }
  return out;
}

std::string ShellCommand::describe_status(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "wait status " + std::to_string(wait_status);
}

}  // namespace lifeboat
