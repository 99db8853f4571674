#include "base/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <cstdlib>
#include <filesystem>

namespace lifeboat {
namespace {

// A scratch directory (test_base does not link the test support library).
struct Scratch {
  std::string path;
  Scratch() {
    char tmpl[] = "/tmp/lifeboat-subprocess-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Scratch() { std::filesystem::remove_all(path); }
  std::string sub(const std::string& name) const { return path + "/" + name; }
};

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(ShellQuote, AnyBytesSurviveTheShell) {
  for (std::string s : {"plain", "it's", "a b\tc", "$(touch /x) `y` \\ \" ;|&", "new\nline", ""}) {
    ShellCommandOptions o;
    o.pipe_stdout = true;
    ShellCommand cmd("printf %s " + shell_quote(s), o);
    EXPECT_EQ(read_all(cmd.stdout_fd()), s);
    EXPECT_EQ(cmd.wait(), "");
  }
}

TEST(ShellCommand, ReportsExitStatusSignalAndKeepsTheOutputTail) {
  {
    ShellCommand cmd("echo starting; echo 'disk quota exceeded' >&2; exit 3", {});
    EXPECT_EQ(cmd.wait(), "exit status 3");
    EXPECT_EQ(cmd.output_tail(), "starting\ndisk quota exceeded\n");
  }
  {
    ShellCommand cmd("kill -TERM $$", {});
    EXPECT_EQ(cmd.wait(), "killed by signal 15");
  }
  {
    ShellCommandOptions o;
    o.tail_bytes = 10;
    ShellCommand cmd("seq 1 10000", o);
    EXPECT_EQ(cmd.wait(), "");
    EXPECT_EQ(cmd.output_tail(), "999\n10000\n");  // the last 10 bytes
  }
}

TEST(ShellCommand, EnvironmentAndLog) {
  Scratch dir;
  std::string log = dir.sub("log");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_GE(fd, 0);
  ShellCommandOptions o;
  o.env = {"LIFEBOAT_ACCOUNT=alice", "HOME=/nonexistent-home"};
  o.log_fd = fd;
  ShellCommand cmd("echo \"$LIFEBOAT_ACCOUNT $HOME\"", o);
  EXPECT_EQ(cmd.wait(), "");
  ::close(fd);
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "alice /nonexistent-home");
}

TEST(ShellCommand, TimeoutStopsTheWholeProcessGroup) {
  Scratch dir;
  std::string marker = dir.sub("late");
  auto started = std::chrono::steady_clock::now();
  {
    // A grandchild that would write the marker later must die with it.
    ShellCommand cmd("(sleep 2; touch " + shell_quote(marker) + ") & sleep 30", {});
    EXPECT_EQ(cmd.wait(1), "timed out after 1 s");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ::sleep(2);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a process of the timed-out command lived on";
}

TEST(ShellCommand, AnOutputPipeHeldOpenByADaemonDoesNotHang) {
  auto started = std::chrono::steady_clock::now();
  ShellCommand cmd("sleep 5 & echo started", {});
  EXPECT_EQ(cmd.wait(), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(cmd.output_tail(), "started\n");
}

}  // namespace
}  // namespace lifeboat
