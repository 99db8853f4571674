// End-to-end: `lifeboat node backup` and `lifeboat node status` as a user
// runs them, with their JSON output and exit codes (docs/CLI.md "node").
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace lifeboat::node_e2e {
namespace {

using nlohmann::json;

struct CmdResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class NodeCliTest : public ::testing::Test {
 protected:
  // Runs the binary through the shell with the test's repository and
  // password; arguments are temp paths and plain words (no quoting needed).
  CmdResult lb(const std::vector<std::string>& args) {
    std::string cmd = "env -u LIFEBOAT_PASSWORD_FILE -u LIFEBOAT_PASSWORD_COMMAND "
                      "LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_PASSWORD=pw LIFEBOAT_REPOSITORY=" +
                      dir_.sub("repo") + " " + LIFEBOAT_BINARY;
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " </dev/null >" + dir_.sub("out") + " 2>" + dir_.sub("err");
    int status = std::system(cmd.c_str());
    CmdResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_.sub("out"));
    r.err = slurp(dir_.sub("err"));
    return r;
  }
  json lb_json(const std::vector<std::string>& args, int expected_code) {
    CmdResult r = lb(args);
    EXPECT_EQ(r.code, expected_code) << r.out << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.out << r.err;
      return json();
    }
  }
  void write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }

  test::TempDir dir_{"lifeboat-node-e2e"};
};

TEST_F(NodeCliTest, NodeBackupAndStatusJson) {
  ASSERT_EQ(lb({"init"}).code, 0);
  std::string home = dir_.sub("home");
  ::mkdir(home.c_str(), 0755);
  for (const char* a : {"alice", "bob", "carol"}) {
    ::mkdir((home + "/" + a).c_str(), 0755);
    write(home + "/" + a + "/index.php", std::string(50000, 'x') + a);
  }
  ::mkdir((home + "/.cache").c_str(), 0755);

  json b = lb_json({"node", "backup", home, "--node", "web209", "--tag", "daily", "--json"}, 0);
  EXPECT_EQ(b["node"], "web209");
  ASSERT_EQ(b["accounts"].size(), 3u) << b.dump(2);
  for (const auto& a : b["accounts"]) {
    EXPECT_EQ(a["result"], "ok") << a.dump();
    EXPECT_EQ(a["snapshot_id"].get<std::string>().size(), 64u);
    EXPECT_EQ(a["files"], 1);
    EXPECT_TRUE(a["error"].is_null());
  }
  EXPECT_EQ(b["accounts"][0]["account"], "alice");
  EXPECT_EQ(b["summary"]["ok"], 3);
  EXPECT_EQ(b["summary"]["failed"], 0);

  json snaps = lb_json({"snapshots", "--json"}, 0);
  ASSERT_EQ(snaps.size(), 3u);
  EXPECT_EQ(snaps[0]["tags"], json({"node:web209", "daily"}));

  // An accounts file naming one account that does not exist: partial, exit 3.
  write(dir_.sub("accounts"), "# accounts of web209\nalice\nghost\n");
  json p = lb_json({"node", "backup", home, "--node", "web209", "--accounts-file",
                    dir_.sub("accounts"), "--json"},
                   3);
  ASSERT_EQ(p["accounts"].size(), 2u) << p.dump(2);
  EXPECT_EQ(p["accounts"][0]["result"], "ok");
  EXPECT_EQ(p["accounts"][0]["bytes_read"], 0);  // the parent proves it unchanged
  EXPECT_EQ(p["accounts"][1]["account"], "ghost");
  EXPECT_EQ(p["accounts"][1]["result"], "failed");
  EXPECT_FALSE(p["accounts"][1]["error"].get<std::string>().empty());
  EXPECT_EQ(p["summary"]["failed"], 1);

  // Status: all fresh.
  json s = lb_json({"node", "status", "--node", "web209", "--json"}, 0);
  ASSERT_EQ(s["accounts"].size(), 3u) << s.dump(2);
  EXPECT_EQ(s["accounts"][0]["account"], "alice");
  EXPECT_EQ(s["accounts"][0]["snapshots"], 2);
  EXPECT_EQ(s["accounts"][0]["result"], "ok");
  EXPECT_FALSE(s["accounts"][0]["stale"].get<bool>());
  EXPECT_EQ(s["summary"]["stale"], 0);
  // With --root, an account directory without a snapshot is listed and stale: exit 3.
  ::mkdir((home + "/dave").c_str(), 0755);
  s = lb_json({"node", "status", "--node", "web209", "--root", home, "--json"}, 3);
  ASSERT_EQ(s["accounts"].size(), 4u) << s.dump(2);
  EXPECT_EQ(s["accounts"][3]["account"], "dave");
  EXPECT_TRUE(s["accounts"][3]["stale"].get<bool>());
  EXPECT_TRUE(s["accounts"][3]["snapshot_id"].is_null());
  EXPECT_EQ(s["summary"]["missing"], 1);
  // Bad --max-age is a usage error.
  EXPECT_EQ(lb({"node", "status", "--node", "web209", "--max-age", "soon"}).code, 2);
}

}  // namespace
}  // namespace lifeboat::node_e2e
