// Database dumps in node backups, with plain shell commands standing in
// for the database server: the dump is streamed into the account's
// snapshot as .lifeboat/databases/<db>.sql, byte for byte, and a failing
// dump fails that account alone (its snapshot saved, partial).
// tests/e2e/mariadb_roundtrip.sh does the same against a real MariaDB.
#include "node/databases.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "base/error.h"
#include "node/node_backup.h"
#include "support/mem_repo.h"
#include "support/snapshot_lookup.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

using test::lookup;
using test::read_content;

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct NodeFixture {
  test::TempDir dir;
  std::string root = dir.sub("home");
  test::MemRepo f;
  NodeFixture(std::initializer_list<const char*> accounts) {
    ::mkdir(root.c_str(), 0755);
    for (const char* a : accounts) {
      std::string d = root + "/" + a;
      ::mkdir(d.c_str(), 0755);
      std::ofstream(d + "/index.php") << "<?php // " << a;
    }
  }
  NodeBackupOptions options(std::vector<std::string> accounts, DatabaseCommands commands) {
    NodeBackupOptions o;
    o.root = root;
    o.node = "web1";
    o.accounts = std::move(accounts);
    o.databases = std::move(commands);
    return o;
  }
  repo::Snapshot snapshot(const AccountResult& r) { return f.repo->load_snapshot(r.snapshot_id.value()); }
  std::string dump(const AccountResult& r, const std::string& db) {
    auto node = lookup(*f.repo, snapshot(r), std::string(kDatabaseDir) + "/" + db + ".sql");
    if (!node) return "<missing>";
    return read_content(*f.repo, *node);
  }
};

TEST(Databases, DumpsAreStreamedIntoEachAccountsSnapshot) {
  NodeFixture n({"alice", "bob"});
  const std::string big = random_bytes(20u << 20, 3);  // several chunks
  const std::string big_path = n.dir.sub("big.sql");
  std::ofstream(big_path, std::ios::binary) << big;
  auto o = n.options({"alice", "bob"},
                     {"printf '%s_shop\\n%s_blog\\n' {account} {account}",
                      "if [ {db} = alice_shop ]; then cat " + big_path +
                          "; else printf -- '-- %s of %s\\n' {db} {account}; fi"});
  NodeBackupResult r = run_node_backup(*n.f.repo, o);
  ASSERT_TRUE(r.all_ok()) << r.accounts[0].error << r.accounts[1].error;
  const AccountResult& alice = r.accounts[0];
  EXPECT_TRUE(n.dump(alice, "alice_shop") == big);
  EXPECT_EQ(n.dump(alice, "alice_blog"), "-- alice_blog of alice\n");
  EXPECT_EQ(n.dump(r.accounts[1], "bob_shop"), "-- bob_shop of bob\n");
  EXPECT_GT(lookup(*n.f.repo, n.snapshot(alice), ".lifeboat/databases/alice_shop.sql")->content.size(), 3u);
  EXPECT_TRUE(lookup(*n.f.repo, n.snapshot(alice), "index.php"));

  // The result lists every database with its size, in the list's order.
  ASSERT_EQ(alice.databases.size(), 2u);
  EXPECT_EQ(alice.databases[0].name, "alice_shop");
  EXPECT_EQ(alice.databases[0].bytes, big.size());
  EXPECT_EQ(alice.databases[1].name, "alice_blog");
  EXPECT_TRUE(alice.databases[1].error.empty());
  EXPECT_EQ(alice.files, 3u);

  // Next night: the dumps are taken again, and the unchanged one adds
  // (almost) nothing.
  NodeBackupResult again = run_node_backup(*n.f.repo, o);
  ASSERT_TRUE(again.all_ok());
  EXPECT_GE(again.accounts[0].bytes_read, big.size());
  EXPECT_LT(again.bytes_added, 64u << 10);
}

TEST(Databases, AFailingDumpFailsItsAccountAloneAndKeepsTheSnapshot) {
  NodeFixture n({"alice", "bob", "carol"});
  // bob's second database: the dump writes part of its output, complains
  // on stderr and exits 2, like mysqldump losing its connection.
  auto o = n.options({"alice", "bob", "carol"},
                     {"echo {account}_one; echo {account}_two",
                      "printf 'data of %s\\n' {db}; if [ {db} = bob_two ]; then "
                      "echo 'mysqldump: Got error: 2013: Lost connection' >&2; exit 2; fi"});
  o.parallel_accounts = 3;
  NodeBackupResult r = run_node_backup(*n.f.repo, o);
  EXPECT_EQ(r.ok, 2u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_FALSE(r.all_ok());
  for (size_t i : {0u, 2u}) {
    EXPECT_EQ(r.accounts[i].result, AccountOutcome::kOk) << r.accounts[i].error;
    EXPECT_FALSE(n.snapshot(r.accounts[i]).partial);
  }
  const AccountResult& bob = r.accounts[1];
  EXPECT_EQ(bob.result, AccountOutcome::kFailed);
  EXPECT_EQ(bob.error,
            "dump of database bob_two failed (exit status 2): mysqldump: Got error: 2013: Lost connection");
  ASSERT_TRUE(bob.snapshot_id);  // the files are saved all the same
  repo::Snapshot s = n.snapshot(bob);
  EXPECT_TRUE(s.partial);
  EXPECT_EQ(s.error_paths, (std::vector<std::string>{r.accounts[1].path + "/.lifeboat/databases/bob_two.sql"}));
  EXPECT_EQ(n.dump(bob, "bob_one"), "data of bob_one\n");
  EXPECT_EQ(n.dump(bob, "bob_two"), "data of bob_two\n");  // what it wrote, marked damaged
  EXPECT_TRUE(lookup(*n.f.repo, s, ".lifeboat/databases/bob_two.sql")->damaged);
  EXPECT_TRUE(lookup(*n.f.repo, s, "index.php"));
  ASSERT_EQ(bob.databases.size(), 2u);
  EXPECT_TRUE(bob.databases[0].error.empty());
  EXPECT_EQ(bob.databases[1].name, "bob_two");
  EXPECT_EQ(bob.databases[1].bytes, 16u);
  EXPECT_EQ(bob.databases[1].error, bob.error);
}

TEST(Databases, ADumpKilledBySignalFails) {
  NodeFixture n({"alice"});
  auto o = n.options({"alice"}, {"echo db", "echo begun {db}; kill -KILL $$"});
  NodeBackupResult r = run_node_backup(*n.f.repo, o);
  ASSERT_EQ(r.accounts[0].result, AccountOutcome::kFailed);
  EXPECT_NE(r.accounts[0].error.find("dump of database db failed (killed by signal 9"), std::string::npos)
      << r.accounts[0].error;
  EXPECT_EQ(n.dump(r.accounts[0], "db"), "begun db\n");
}

TEST(Databases, AFailingListCommandFailsTheAccount) {
  NodeFixture n({"alice", "bob"});
  auto o = n.options({"alice", "bob"},
                     {"if [ {account} = bob ]; then echo 'ERROR 2002: Can'\\''t connect' >&2; exit 1; fi; echo db",
                      "echo ok {db}"});
  NodeBackupResult r = run_node_backup(*n.f.repo, o);
  EXPECT_EQ(r.accounts[0].result, AccountOutcome::kOk);
  const AccountResult& bob = r.accounts[1];
  EXPECT_EQ(bob.result, AccountOutcome::kFailed);
  EXPECT_EQ(bob.error, "database list command for account bob failed (exit status 1): ERROR 2002: Can't connect");
  EXPECT_TRUE(bob.databases.empty());
  repo::Snapshot s = n.snapshot(bob);
  EXPECT_TRUE(s.partial);
  EXPECT_EQ(s.error_paths, (std::vector<std::string>{bob.path + "/.lifeboat/databases"}));
}

TEST(Databases, NamesFromTheServerNeverInjectAndBadOnesAreRefused) {
  NodeFixture n({"alice"});
  const std::string pwned = n.dir.sub("pwned");
  // Names a server could hold (MariaDB allows nearly anything in quoted
  // identifiers), and names that cannot be file names. The commands run in
  // the test's directory, so an injected `touch pwned` would land there.
  const std::vector<std::string> names = {
      "it's", "two words", "x'; touch pwned; echo '", "$(touch pwned)",
      "`touch pwned`", "a\"b\\c", "-n", "ünïcode", "x\" ; touch pwned ; echo \""};
  std::string list_file = n.dir.sub("names");
  {
    std::ofstream f(list_file, std::ios::binary);
    for (const auto& name : names) f << name << "\n";
    f << "a/b\n.\n..\n\n" << names[0] << "\n";  // refused, refused, refused, blank, repeated
  }
  auto o = n.options({"alice"}, {"cat " + list_file,
                                 "cd " + n.dir.path() + " && printf '%s|%s' {db} \"{account}\""});
  NodeBackupResult r = run_node_backup(*n.f.repo, o);
  const AccountResult& alice = r.accounts[0];
  EXPECT_EQ(alice.result, AccountOutcome::kFailed);
  EXPECT_NE(::access(pwned.c_str(), F_OK), 0) << "a database name was run as a command";
  for (const auto& name : names) EXPECT_EQ(n.dump(alice, name), name + "|alice") << name;
  ASSERT_EQ(alice.databases.size(), names.size() + 3);
  EXPECT_EQ(alice.databases[0].name, "a/b");
  EXPECT_NE(alice.databases[0].error.find("cannot be a file name (it contains '/')"), std::string::npos);
  EXPECT_EQ(alice.databases[1].name, ".");
  EXPECT_EQ(alice.databases[2].name, "..");
  for (size_t i = 3; i < alice.databases.size(); ++i) EXPECT_TRUE(alice.databases[i].error.empty());
  repo::Snapshot s = n.snapshot(alice);
  EXPECT_TRUE(s.partial);
  EXPECT_TRUE(lookup(*n.f.repo, s, ".lifeboat/databases")->damaged);
}

TEST(Databases, NameChecks) {
  EXPECT_FALSE(database_name_problem("shop"));
  EXPECT_FALSE(database_name_problem(std::string(251, 'x')));
  EXPECT_TRUE(database_name_problem(std::string(252, 'x')));
  EXPECT_TRUE(database_name_problem(""));
  EXPECT_TRUE(database_name_problem("."));
  EXPECT_TRUE(database_name_problem(".."));
  EXPECT_TRUE(database_name_problem("a/b"));
  EXPECT_TRUE(database_name_problem(std::string("a\0b", 3)));
  EXPECT_FALSE(database_name_problem("..."));
}

TEST(Databases, UnusableTemplatesAreRefusedBeforeAnyAccount) {
  NodeFixture n({"alice"});
  for (auto commands : std::vector<DatabaseCommands>{{"echo db", "mysqldump --all-databases"},
                                                     {"echo db", "mysqldump $(cat /x) {db}"},
                                                     {"echo '{account}", "mysqldump {db}"},
                                                     {"", "mysqldump {db}"}}) {
    auto o = n.options({"alice"}, commands);
    bool started = false;
    o.on_account_start = [&](const std::string&) { started = true; };
    try {
      run_node_backup(*n.f.repo, o);
      ADD_FAILURE() << "accepted " << commands.list << " / " << commands.dump;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_TRUE(e.message().starts_with("--db-")) << e.message();
    }
    EXPECT_FALSE(started);
  }
  EXPECT_TRUE(n.f.repo->list_snapshots().empty());
}

}  // namespace
}  // namespace lifeboat::node
