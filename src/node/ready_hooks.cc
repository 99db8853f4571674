#include "node/ready_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <sys/wait.h>

#include <map>

#include "base/error.h"
#include "base/shell_command.h"
#include "base/shell_template.h"

namespace lifeboat::node {
namespace {

// The end of a hook's output, for a one-line message (stderr_tail() is on
// one line already).
std::string last_words(const std::string& output) {
  return output.size() > 300 ? "..." + output.substr(output.size() - 300) : output;
}

}  // namespace

std::string hook_command_line(const std::string& command, const std::string& account) {
  std::string text = command;
  ShellTemplate t = ShellTemplate::parse(text, {"account"}, "--on-account-ready");
  if (!t.uses("account")) t = ShellTemplate::parse(text + " {account}", {"account"}, "--on-account-ready");
  return t.expand({{"account", account}});
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
    ShellCommand cmd(hook_command_line(command_, job.account),
                     "ready hook of account " + job.account, ShellCommand::Mode::kIsolated,
                     {"LIFEBOAT_ACCOUNT=" + job.account, "LIFEBOAT_ACCOUNT_DIR=" + job.dir,
                      "LIFEBOAT_SNAPSHOT=" + job.snapshot, "LIFEBOAT_NODE=" + job.node});
    bool timed_out = false;
    const int status = cmd.run_to_end(
        timeout_seconds_,
        [this](std::string_view out) {
          // A log that cannot be written must not fail the hook.
          if (log_fd_ >= 0 && ::write(log_fd_, out.data(), out.size()) < 0) return;
        },
        timed_out);
    if (timed_out)
      error = "ready hook timed out after " + std::to_string(timeout_seconds_) + " s";
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      error = "ready hook failed (" + ShellCommand::describe_status(status) + ")";
    if (!error.empty()) {
      std::string words = last_words(cmd.stderr_tail());
      if (!words.empty()) error += ": " + words;
    }
  } catch (const Error& e) {
    error = "ready hook: " + e.message();
  }
  done_(job, error);
}

}  // namespace lifeboat::node
