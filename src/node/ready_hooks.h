// The node restore's ready hook: the operator's "bring it online" command,
// run once an account is restored and verified. Hooks run on threads of
// their own (a slow hook never holds up the restore, nor more than its own
// account), each with a timeout, its output appended to a log file and the
// last of it kept for the error message.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "base/thread_pool.h"

namespace lifeboat::node {

struct HookJob {
  std::string account;
  std::string dir;       // where the account was restored
  std::string snapshot;  // id (hex)
  std::string node;
};

// The shell command for one account: every {account} placeholder in
// `command` is replaced by the name, quoted for its place (base/
// shell_template.h); without one, the name is appended as the last
// argument. Throws Error(kInvalidArgument) for a template it cannot follow.
std::string hook_command_line(const std::string& command, const std::string& account);

class ReadyHooks {
 public:
  // `done(job, error)`: error is "" when the hook exited 0; otherwise what
  // went wrong and the end of its output. Called from hook threads.
  ReadyHooks(std::string command, int timeout_seconds, const std::string& log_path,
             size_t threads,
             std::function<void(const HookJob& job, const std::string& error)> done);
  ~ReadyHooks();

  void submit(HookJob job);
  // Waits for every submitted hook.
  void finish();

 private:
  void run(const HookJob& job);

  const std::string command_;
  const int timeout_seconds_;
  int log_fd_ = -1;
  std::function<void(const HookJob&, const std::string&)> done_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace lifeboat::node
