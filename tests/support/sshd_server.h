// An OpenSSH server (SFTP) on 127.0.0.1 for tests, started and stopped
// through scripts/start-sshd (header-only: the backend tests do not link the
// support library). Logins as the test user with the key the script makes;
// its host key is the only one in known_hosts().
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "support/rest_server.h"  // free_loopback_port

namespace lifeboat::test {

class SshdServer {
 public:
  // Keeps its config, keys and the user's home in `state_dir`.
  explicit SshdServer(std::string state_dir) : state_(std::move(state_dir)), port_(free_loopback_port()) {
    // The test user's home is below state_dir: every directory above it
    // must be searchable by that user (mkdtemp makes them 0700).
    for (std::string dir = state_; !dir.empty(); dir = dir.substr(0, dir.rfind('/'))) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0) continue;  // made by the script
      if (st.st_mode & S_IXOTH) break;
      if (st.st_uid == ::geteuid()) ::chmod(dir.c_str(), (st.st_mode & 07777) | 0711);
    }
    if (run("start") != 0) throw std::runtime_error("sshd did not start (see " + state_ + "/sshd.log)");
  }
  ~SshdServer() { run("stop"); }
  SshdServer(const SshdServer&) = delete;
  SshdServer& operator=(const SshdServer&) = delete;

  int port() const { return port_; }
  std::string user() const { return "sftptest"; }
  std::string identity() const { return state_ + "/client_ed25519"; }
  std::string known_hosts() const { return state_ + "/known_hosts"; }
  // "sftptest@127.0.0.1:<port>": add an absolute path for an sftp: URL.
  std::string authority() const { return user() + "@127.0.0.1:" + std::to_string(port_); }
  std::string home() const { return state_ + "/home/" + user(); }

 private:
  int run(const char* what) const {
    const std::string cmd = "STATE='" + state_ + "' PORT=" + std::to_string(port_) + " bash '" +
                            LIFEBOAT_SOURCE_DIR + "/scripts/start-sshd' " + what + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }
  std::string state_;
  int port_;
};

}  // namespace lifeboat::test
