// Running commands for backups: stdout streamed, stderr's tail kept, the
// exit judged, nothing left running.
#include "base/shell_command.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "base/error.h"
#include "base/shell_template.h"

namespace lifeboat {
namespace {

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// The message finish() throws, or "" if it does not.
std::string finish_error(ShellCommand& c) {
  try {
    c.finish();
    return "";
  } catch (const Error& e) {
    return e.message();
  }
}

TEST(ShellCommand, StreamsStdoutAndSucceeds) {
  ShellCommand c("printf 'a\\0b'; printf 'c'", "test");
  EXPECT_EQ(c.read_to_end(100), std::string("a\0bc", 4));
  EXPECT_NO_THROW(c.finish());
}

TEST(ShellCommand, FailureNamesTheCommandStatusAndStderrTail) {
  ShellCommand c("echo out; echo 'first problem' >&2; echo 'last problem' >&2; exit 3",
                 "dump of database shop");
  EXPECT_EQ(c.read_to_end(100), "out\n");
  EXPECT_EQ(finish_error(c),
            "dump of database shop failed (exit status 3): first problem | last problem");
}

TEST(ShellCommand, KilledBySignalIsAFailure) {
  ShellCommand c("echo some; kill -9 $$", "test");
  c.read_to_end(100);
  std::string error = finish_error(c);
  EXPECT_NE(error.find("killed by signal 9"), std::string::npos) << error;
}

TEST(ShellCommand, LotsOfStderrNeitherBlocksNorGrowsTheTail) {
  // 1 MiB on stderr while writing stdout: with stderr unread the command
  // would block on a full pipe and never finish.
  ShellCommand c("head -c 1048576 /dev/zero | tr '\\0' e >&2; echo done; echo END-OF-ERRORS >&2; "
                 "exit 1",
                 "test");
  EXPECT_EQ(c.read_to_end(100), "done\n");
  std::string error = finish_error(c);
  EXPECT_NE(error.find("END-OF-ERRORS"), std::string::npos) << error.substr(0, 100);
  EXPECT_LE(c.stderr_tail().size(), ShellCommand::kStderrTail + 8);
}

TEST(ShellCommand, StdinIsEmptyInIsolatedMode) {
  ShellCommand c("cat; echo end", "test");
  EXPECT_EQ(c.read_to_end(100), "end\n");
  c.finish();
}

TEST(ShellCommand, IsolatedCommandsDoNotSeeTheRepositoryPassword) {
  ::setenv("LIFEBOAT_PASSWORD", "secret", 1);
  ::setenv("LIFEBOAT_OTHER", "kept", 1);
  ShellCommand isolated("echo \"[${LIFEBOAT_PASSWORD-unset}] $LIFEBOAT_OTHER\"", "test");
  EXPECT_EQ(isolated.read_to_end(100), "[unset] kept\n");
  isolated.finish();
  ShellCommand interactive("echo \"[$LIFEBOAT_PASSWORD]\"", "test", ShellCommand::Mode::kInteractive);
  EXPECT_EQ(interactive.read_to_end(100), "[secret]\n");
  interactive.finish();
  ::unsetenv("LIFEBOAT_PASSWORD");
  ::unsetenv("LIFEBOAT_OTHER");
}

TEST(ShellCommand, AnAbandonedCommandIsKilledWithItsChildren) {
  pid_t shell;
  const auto start = std::chrono::steady_clock::now();
  {
    // A pipeline: the shell's children must go too, not only the shell.
    ShellCommand c("sleep 60 | sleep 60", "test");
    shell = c.pid();
    ASSERT_TRUE(alive(shell));
  }
  EXPECT_FALSE(alive(shell));  // reaped: no zombie left either
  // The sleeps were killed too; as orphans they are reaped by PID 1, which
  // may take a moment, so wait for the group to be gone.
  while (::kill(-shell, 0) == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
    ::usleep(20000);
  EXPECT_EQ(::kill(-shell, 0), -1) << "something of the process group survived";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ShellCommand, FinishDoesNotWaitForABackgroundChildHoldingStderr) {
  const auto start = std::chrono::steady_clock::now();
  pid_t group;
  {
    ShellCommand c("sleep 30 >/dev/null & echo ok", "test");
    group = c.pid();
    EXPECT_EQ(c.read_to_end(100), "ok\n");
    EXPECT_NO_THROW(c.finish());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ::kill(-group, SIGKILL);  // the test's own leftover
}

TEST(ShellCommand, DescribesStatuses) {
  EXPECT_EQ(ShellCommand::describe_status(0), "exit status 0");
  EXPECT_EQ(ShellCommand::describe_status(2 << 8), "exit status 2");
  EXPECT_EQ(ShellCommand::describe_status(SIGKILL).substr(0, 18), "killed by signal 9");
}

// run_to_end (the ready hook): everything written goes to the sink, extra
// environment is seen, a timeout stops the whole process group, and output
// held open by a daemon the command started is not waited for.
TEST(ShellCommandRunToEnd, PassesOutputAndEnvironment) {
  ShellCommand c("echo \"$LIFEBOAT_ACCOUNT\"; echo warn >&2", "hook",
                 ShellCommand::Mode::kIsolated, {"LIFEBOAT_ACCOUNT=alice", "HOME=/nowhere"});
  std::string seen;
  bool timed_out = true;
  int status = c.run_to_end(0, [&](std::string_view s) { seen += s; }, timed_out);
  EXPECT_FALSE(timed_out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(seen.find("alice\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("warn\n"), std::string::npos) << seen;
}

TEST(ShellCommandRunToEnd, TimeoutKillsTheWholeGroup) {
  char dir[] = "/tmp/lifeboat-shell-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string marker = std::string(dir) + "/late";
  const auto started = std::chrono::steady_clock::now();
  {
    // A background child that would write the marker later must die too.
    ShellCommand c("(sleep 2; touch " + shell_quote(marker) + ") & sleep 30", "hook");
    bool timed_out = false;
    int status = c.run_to_end(1, [](std::string_view) {}, timed_out);
    EXPECT_TRUE(timed_out);
    EXPECT_TRUE(WIFSIGNALED(status));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ::sleep(2);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a process of the timed-out command lived on";
  ::rmdir(dir);
}

TEST(ShellCommandRunToEnd, ADaemonHoldingTheOutputOpenDoesNotHang) {
  const auto started = std::chrono::steady_clock::now();
  // setsid: the daemon leaves the process group, as real daemons do.
  ShellCommand c("setsid sleep 5 & echo started", "hook");
  std::string seen;
  bool timed_out = false;
  int status = c.run_to_end(0, [&](std::string_view s) { seen += s; }, timed_out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(seen, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

}  // namespace
}  // namespace lifeboat
