// A restic REST server (`rclone serve restic`) on 127.0.0.1 for tests,
// started and stopped through scripts/start-rclone-rest (header-only: the
// backend tests do not link the support library).
#pragma once

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lifeboat::test {

// A port the kernel just called free (another process could take it before
// the server binds; the script's start fails loudly then).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

class RestServer {
 public:
  // Serves `state_dir`/repo with basic auth u/p.
  explicit RestServer(std::string state_dir, bool append_only = false)
      : state_(std::move(state_dir)), port_(free_loopback_port()) {
    if (run("start", append_only) != 0) throw std::runtime_error("rclone serve restic did not start");
  }
  ~RestServer() { run("stop", false); }
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // "http://u:p@127.0.0.1:<port>" (add a path for a repository).
  std::string url() const { return "http://u:p@127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  int run(const char* what, bool append_only) const {
    const std::string cmd = "STATE='" + state_ + "' PORT=" + std::to_string(port_) +
                            " APPEND_ONLY=" + (append_only ? "1" : "0") + " bash '" +
                            LIFEBOAT_SOURCE_DIR + "/scripts/start-rclone-rest' " + what +
                            " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }
  std::string state_;
  int port_;
};

}  // namespace lifeboat::test
