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
  // password; each argument is passed as it is (single-quoted).
  CmdResult lb(const std::vector<std::string>& args) {
    std::string cmd = "env -u LIFEBOAT_PASSWORD_FILE -u LIFEBOAT_PASSWORD_COMMAND "
                      "LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_PASSWORD=pw LIFEBOAT_REPOSITORY=" +
                      dir_.sub("repo") + " " + LIFEBOAT_BINARY;
    for (const auto& a : args) {
      cmd += " '";
      for (char c : a) cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
      cmd += "'";
    }
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

// Database dumps (docs/CLI.md "Databases"): listed per account in the JSON;
// a failing dump fails its account alone (snapshot saved, exit 3).
TEST_F(NodeCliTest, NodeBackupWithDatabaseDumps) {
  ASSERT_EQ(lb({"init"}).code, 0);
  std::string home = dir_.sub("home");
  ::mkdir(home.c_str(), 0755);
  for (const char* a : {"alice", "bob"}) {
    ::mkdir((home + "/" + a).c_str(), 0755);
    write(home + "/" + a + "/index.php", a);
  }
  const std::string list = "printf '%s_shop\\n' {account}; [ {account} != bob ] || echo bob_gone";
  const std::string dump =
      "[ {db} != bob_gone ] || { echo \"Unknown database '{db}'\" >&2; exit 2; }; "
      "printf -- '-- dump of %s' {db}";
  json b = lb_json({"node", "backup", home, "--node", "web1", "--json", "--db-list-command", list,
                    "--db-dump-command", dump},
                   3);
  ASSERT_EQ(b["accounts"].size(), 2u) << b.dump(2);
  const json& alice = b["accounts"][0];
  EXPECT_EQ(alice["result"], "ok");
  EXPECT_EQ(alice["databases"],
            json::parse(R"([{"name": "alice_shop", "bytes": 21, "error": null}])"));  // "-- dump of alice_shop"
  const json& bob = b["accounts"][1];
  EXPECT_EQ(bob["result"], "failed");
  EXPECT_FALSE(bob["snapshot_id"].is_null());  // saved all the same
  EXPECT_EQ(bob["error"],
            "dump of database bob_gone failed (exit status 2): Unknown database 'bob_gone'");
  ASSERT_EQ(bob["databases"].size(), 2u);
  EXPECT_EQ(bob["databases"][1]["name"], "bob_gone");
  EXPECT_EQ(bob["databases"][1]["error"], bob["error"]);
  EXPECT_EQ(b["summary"]["failed"], 1);
  json snaps = lb_json({"snapshots", "--json"}, 0);
  ASSERT_EQ(snaps.size(), 2u);
  json bob_snap = snaps[0]["account"] == "bob" ? snaps[0] : snaps[1];
  EXPECT_TRUE(bob_snap["partial"].get<bool>());
  CmdResult cat = lb({"ls", "latest", "--account", "alice", "-r"});
  EXPECT_NE(cat.out.find("/.lifeboat/databases/alice_shop.sql"), std::string::npos) << cat.out;

  // Plain backup of one account takes the same flags.
  json one = lb_json({"backup", home + "/alice", "--account", "alice", "--json",
                      "--db-list-command", list, "--db-dump-command", dump},
                     0);
  EXPECT_EQ(one["databases"][0]["name"], "alice_shop");
  EXPECT_EQ(one["databases"][0]["bytes"], 21);  // "-- dump of alice_shop"

  // Usage errors, before anything runs: one flag without the other, a
  // template lifeboat cannot quote safely.
  EXPECT_EQ(lb({"node", "backup", home, "--node", "web1", "--db-list-command", list}).code, 2);
  CmdResult bad = lb({"node", "backup", home, "--node", "web1", "--db-list-command", list,
                      "--db-dump-command", "mysqldump $(cat /etc/dbopts) {db}"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--db-dump-command"), std::string::npos) << bad.err;
  EXPECT_EQ(lb_json({"snapshots", "--json"}, 0).size(), 3u);
}

}  // namespace
}  // namespace lifeboat::node_e2e
