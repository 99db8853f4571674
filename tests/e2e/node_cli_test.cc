// End-to-end: `lifeboat node backup`, `lifeboat node status` and
// `lifeboat plan` as a user runs them, with their JSON output and exit codes
// (docs/CLI.md "node", "plan").
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

TEST_F(NodeCliTest, PlanComparesTwoRepositories) {
  const std::string a = dir_.sub("repo-a"), b = dir_.sub("repo-b");
  ASSERT_EQ(lb({"init", "--repo", a}).code, 0);
  ASSERT_EQ(lb({"init", "--repo", b}).code, 0);
  std::string home = dir_.sub("home");
  ::mkdir(home.c_str(), 0755);
  const std::string core(300000, 'c');  // the same CMS core in every account
  for (const char* acct : {"alice", "bob", "carol"}) {
    ::mkdir((home + "/" + acct).c_str(), 0755);
    write(home + "/" + acct + "/core.php", core);
    write(home + "/" + acct + "/own.txt", std::string(1000, 'o') + acct);
  }
  ASSERT_EQ(lb({"node", "backup", home, "--node", "web209", "--repo", a, "-q"}).code, 0);
  // B lacks carol.
  write(dir_.sub("two"), "alice\nbob\n");
  ASSERT_EQ(lb({"node", "backup", home, "--node", "web209", "--accounts-file", dir_.sub("two"),
                "--repo", b, "-q"})
                .code,
            0);

  json p = lb_json({"plan", "--node", "web209", "--repo", a, "--repo", b, "--probe-seconds",
                    "0.2", "--json"},
                   0);
  EXPECT_EQ(p["node"], "web209");
  EXPECT_EQ(p["max_age_seconds"], 26 * 3600);
  EXPECT_TRUE(p["at"].is_null());
  EXPECT_EQ(p["model"]["fetchers"], 4);
  ASSERT_EQ(p["repositories"].size(), 2u) << p.dump(2);
  const json& ra = p["repositories"][0];
  const json& rb = p["repositories"][1];
  EXPECT_EQ(ra["location"], a);
  EXPECT_TRUE(ra["ok"].get<bool>());
  EXPECT_EQ(ra["summary"]["accounts"], 3);
  EXPECT_EQ(ra["summary"]["stale"], 0);
  EXPECT_EQ(ra["rpo"]["accounts"], 3);
  EXPECT_GE(ra["rpo"]["max_age_seconds"].get<double>(), 0.0);
  EXPECT_LT(ra["rpo"]["max_age_seconds"].get<double>(), 3600.0);
  // Deduplicated: the core is fetched once.
  const json& c = ra["content"];
  EXPECT_EQ(c["bytes_total"], 3 * (300000 + 1000) + 5 + 3 + 5);  // + the account names
  EXPECT_LT(c["unique_bytes"].get<uint64_t>(), c["bytes_total"].get<uint64_t>() / 2);
  EXPECT_GT(c["stored_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(c["packs"].get<uint64_t>(), 1u);
  EXPECT_GE(c["ranges"].get<uint64_t>(), 1u);
  EXPECT_EQ(c["files"], 6);
  EXPECT_TRUE(ra["probe"]["ran"].get<bool>());
  EXPECT_GT(ra["probe"]["bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(ra["probe"]["bytes_per_second"].get<double>(), 0.0);
  EXPECT_TRUE(ra["rto"]["known"].get<bool>());
  EXPECT_GT(ra["rto"]["total_seconds"].get<double>(), 0.0);
  EXPECT_LE(ra["rto"]["ready50_seconds"].get<double>(), ra["rto"]["ready100_seconds"].get<double>());
  ASSERT_EQ(ra["accounts"].size(), 3u);
  EXPECT_EQ(ra["accounts"][0]["account"], "alice");
  EXPECT_EQ(ra["accounts"][0]["snapshot_id"].get<std::string>().size(), 64u);
  EXPECT_EQ(ra["accounts"][0]["snapshot_id"], ra["accounts"][0]["complete_snapshot_id"]);
  EXPECT_TRUE(ra["accounts"][0]["newer_partial_snapshot_id"].is_null());
  EXPECT_TRUE(ra["warnings"].empty());
  // B: carol is missing there, so it is stale and A is recommended.
  EXPECT_EQ(rb["summary"]["missing"], 1);
  EXPECT_EQ(rb["summary"]["stale"], 1);
  EXPECT_EQ(rb["accounts"][2]["account"], "carol");
  EXPECT_TRUE(rb["accounts"][2]["missing"].get<bool>());
  EXPECT_TRUE(rb["accounts"][2]["snapshot_id"].is_null());
  EXPECT_EQ(p["recommended"]["location"], a);
  EXPECT_EQ(p["recommended"]["index"], 0);
  EXPECT_EQ(p["recommended"]["decided_by"], "stale");

  // Only some accounts.
  p = lb_json({"plan", "--node", "web209", "--repo", b, "--accounts", "alice,carol", "--json"}, 0);
  ASSERT_EQ(p["repositories"][0]["accounts"].size(), 2u) << p.dump(2);
  EXPECT_EQ(p["repositories"][0]["summary"]["missing"], 1);

  // A repository that cannot be opened is reported in its row: exit 3.
  const std::string none = dir_.sub("no-repo");
  CmdResult r = lb({"plan", "--node", "web209", "--repo", a, "--repo", none, "--json",
                    "--probe-seconds", "0.2"});
  EXPECT_EQ(r.code, 3) << r.err;
  p = json::parse(r.out);
  EXPECT_TRUE(p["repositories"][0]["ok"].get<bool>());
  EXPECT_FALSE(p["repositories"][1]["ok"].get<bool>());
  EXPECT_EQ(p["repositories"][1]["exit_code"], 10);
  EXPECT_NE(p["repositories"][1]["error"].get<std::string>().find(none), std::string::npos);
  EXPECT_EQ(p["recommended"]["location"], a);
  EXPECT_NE(r.err.find("cannot be planned"), std::string::npos) << r.err;

  // Human output names both and recommends one.
  r = lb({"plan", "--node", "web209", "--repo", a, "--repo", b, "--probe-seconds", "0.2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("RTO estimate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("carol (no snapshot)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recommended: " + a), std::string::npos) << r.out;

  // Nothing could be planned: the error's own exit code, nothing on stdout.
  r = lb({"plan", "--node", "web209", "--repo", none});
  EXPECT_EQ(r.code, 10) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  write(dir_.sub("wrong.pw"), "wrong\n");
  EXPECT_EQ(lb({"plan", "--node", "web209", "--repo", a, "--repo", b, "--password-file",
                dir_.sub("wrong.pw")})
                .code,
            12);

  // Usage errors: bad --max-age or --at; several --repo for any other command.
  EXPECT_EQ(lb({"plan", "--node", "web209", "--repo", a, "--max-age", "soon"}).code, 2);
  EXPECT_EQ(lb({"plan", "--node", "web209", "--repo", a, "--at", "yesterday"}).code, 2);
  EXPECT_EQ(lb({"plan", "--repo", a}).code, 2);  // --node is required
  r = lb({"snapshots", "--repo", a, "--repo", b});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--repo was given 2 times"), std::string::npos) << r.err;

  // As of a time before every backup: no snapshots, exit 3 with a warning.
  r = lb({"plan", "--node", "web209", "--repo", a, "--at", "2001-01-01T00:00:00Z", "--json"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("no snapshots of node web209"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lifeboat::node_e2e
