#include "node/ready_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"
#include "base/subprocess.h"

namespace lifeboat::node {
namespace {

// The last line or two of a hook's output, for a one-line message.
std::string last_words(const std::string& output) {
  std::string s = output;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.size() > 300) s = "..." + s.substr(s.size() - 300);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string hook_command_line(const std::string& command, const std::string& account) {
  const std::string quoted = shell_quote(account);
  const std::string marker = "{account}";
  std::string out;
  size_t pos = 0;
  bool substituted = false;
  for (size_t at; (at = command.find(marker, pos)) != std::string::npos; pos = at + marker.size()) {
    out += command.substr(pos, at - pos) + quoted;
    substituted = true;
  }
  out += command.substr(pos);
  if (!substituted) out += " " + quoted;
  return out;
}

ReadyHooks::ReadyHooks(std::string command, int timeout_seconds, const std::string& log_path,
                       size_t threads,
                       std::function<void(const HookJob&, const std::string&)> done)
    : command_(std::move(command)), timeout_seconds_(timeout_seconds), done_(std::move(done)) {
  if (!log_path.empty()) {
    log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd_ < 0) throw_errno("open the hook log " + log_path);
  }
  pool_ = std::make_unique<ThreadPool>(threads, 1u << 20);
}

ReadyHooks::~ReadyHooks() {
  pool_.reset();  // joins
  if (log_fd_ >= 0) ::close(log_fd_);
}

void ReadyHooks::submit(HookJob job) {
  pool_->submit([this, job = std::move(job)] { run(job); });
}

void ReadyHooks::finish() { pool_->wait(); }

void ReadyHooks::run(const HookJob& job) {
  std::string error;
  try {
    ShellCommandOptions o;
    o.env = {"LIFEBOAT_ACCOUNT=" + job.account, "LIFEBOAT_ACCOUNT_DIR=" + job.dir,
             "LIFEBOAT_SNAPSHOT=" + job.snapshot, "LIFEBOAT_NODE=" + job.node};
    o.log_fd = log_fd_;
    ShellCommand cmd(hook_command_line(command_, job.account), o);
    std::string status = cmd.wait(timeout_seconds_);
    if (!status.empty()) {
      error = "ready hook " + status;
      std::string words = last_words(cmd.output_tail());
      if (!words.empty()) error += ": " + words;
    }
  } catch (const Error& e) {
    error = "ready hook: " + e.message();
  }
  done_(job, error);
}

}  // namespace lifeboat::node
