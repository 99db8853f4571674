// A Ceph RADOS Gateway (real S3, real SigV4 checks) on 127.0.0.1 for tests
// (header-only: the backend tests do not link the support library).
//
// Starting Ceph takes ~15 s, so ctest starts one for the whole run (the
// fixture "rgw" in CMakeLists.txt: scripts/start-rgw with its state in
// LIFEBOAT_TEST_RGW_STATE) and every test uses a bucket of its own. A test
// binary run by hand, without that fixture, starts its own gateway once
// and stops it at exit.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "support/rest_server.h"  // free_loopback_port

namespace lifeboat::test {

class RgwServer {
 public:
  // The shared gateway (started on first use if ctest did not start one).
  static const RgwServer& shared() {
    static std::unique_ptr<RgwServer> server = [] {
      const char* state = std::getenv("LIFEBOAT_TEST_RGW_STATE");
      if (state && std::ifstream(std::string(state) + "/s3.env")) return std::unique_ptr<RgwServer>(new RgwServer(state, false));
      char tmpl[] = "/tmp/lifeboat-rgw-XXXXXX";
      if (!::mkdtemp(tmpl)) throw std::runtime_error("no temporary directory for the gateway");
      auto s = std::unique_ptr<RgwServer>(new RgwServer(tmpl, true));
      s->start();
      return s;
    }();
    return *server;
  }
  ~RgwServer() {
    if (owned_) {
      run("stop");
      std::system(("rm -rf '" + state_ + "'").c_str());
    }
  }

  // "http://127.0.0.1:<port>"
  std::string endpoint() const { return env_.at("S3_ENDPOINT"); }
  std::string key_id() const { return env_.at("S3_ACCESS_KEY"); }
  std::string secret() const { return env_.at("S3_SECRET_KEY"); }

  // A bucket name no other test uses.
  static std::string fresh_bucket() {
    static std::mt19937_64 rng(std::random_device{}());
    return "t" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000000);
  }

 private:
  RgwServer(std::string state, bool owned) : state_(std::move(state)), owned_(owned) {
    if (!owned_) load_env();
  }
  void start() {
    if (run("start") != 0) throw std::runtime_error("the Ceph RADOS Gateway did not start (see " + state_ + ")");
    load_env();
  }
  void load_env() {
    std::ifstream in(state_ + "/s3.env");
    std::string line;
    while (std::getline(in, line))
      if (auto eq = line.find('='); eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    if (!env_.count("S3_ENDPOINT")) throw std::runtime_error("no S3 endpoint in " + state_ + "/s3.env");
  }
  int run(const char* what) const {
    const std::string cmd = "STATE='" + state_ + "' PORT=" + std::to_string(free_loopback_port()) +
                            " MON_PORT=" + std::to_string(free_loopback_port()) + " bash '" +
                            LIFEBOAT_SOURCE_DIR + "/scripts/start-rgw' " + what + " >'" + state_ +
                            "/start.log' 2>&1";
    return std::system(cmd.c_str());
  }
  std::string state_;
  bool owned_;
  std::map<std::string, std::string> env_;
};

}  // namespace lifeboat::test
