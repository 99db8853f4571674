#include "node/node_status.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "node/accounts.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

constexpr int64_t kHour = 3600LL * 1000000000LL;

TEST(NodeStatus, ParseMaxAge) {
  EXPECT_EQ(parse_max_age("26h"), 26 * kHour);
  EXPECT_EQ(parse_max_age("90"), 90LL * 1000000000LL);
  EXPECT_EQ(parse_max_age("90s"), 90LL * 1000000000LL);
  EXPECT_EQ(parse_max_age("30m"), 30LL * 60 * 1000000000LL);
  EXPECT_EQ(parse_max_age("7d"), 7 * 24 * kHour);
  for (const char* bad : {"", "h", "-1h", "1.5h", "3w", "12hh"})
    EXPECT_THROW(parse_max_age(bad), Error) << bad;
}

TEST(NodeStatus, ListsAccountsAndFlagsStaleAndMissing) {
  auto be = std::make_shared<backend::MemBackend>();
  repo::Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {});
  auto repo = repo::Repository::open(be, "pw");
  const UnixNanos now = 1'800'000'000LL * 1000000000LL;
  auto save = [&](const std::string& account, const std::string& node, UnixNanos t,
                  uint64_t bytes, bool partial) {
    repo::Snapshot s;
    s.account = account;
    s.node = node;
    s.time = t;
    s.paths = {"/home/" + account};
    s.partial = partial;
    s.summary.bytes_total = bytes;
    return repo->save_snapshot(s);
  };
  Id alice_old = save("alice", "web1", now - 50 * kHour, 10, false);
  Id alice_new = save("alice", "web1", now - 2 * kHour, 11, true);
  Id bob = save("bob", "web1", now - 30 * kHour, 20, false);  // stale
  save("carol", "web2", now - 1 * kHour, 30, false);          // another node

  NodeStatus s = node_status(*repo, "web1", {}, now, 26 * kHour);
  ASSERT_EQ(s.accounts.size(), 2u);
  EXPECT_EQ(s.accounts[0].account, "alice");
  EXPECT_EQ(s.accounts[0].snapshot_id, alice_new);
  EXPECT_EQ(s.accounts[0].bytes_total, 11u);
  EXPECT_TRUE(s.accounts[0].partial);
  EXPECT_EQ(s.accounts[0].complete_id, alice_old);  // the newest that is not partial
  EXPECT_EQ(s.accounts[0].complete_time, now - 50 * kHour);
  EXPECT_EQ(s.accounts[0].snapshots, 2u);
  EXPECT_DOUBLE_EQ(s.accounts[0].age_seconds, 2 * 3600.0);
  EXPECT_FALSE(s.accounts[0].stale);
  EXPECT_EQ(s.accounts[1].account, "bob");
  EXPECT_EQ(s.accounts[1].snapshot_id, bob);
  EXPECT_EQ(s.accounts[1].complete_id, bob);
  EXPECT_TRUE(s.accounts[1].stale);
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.missing, 0u);

  // A longer max age: nothing stale.
  EXPECT_EQ(node_status(*repo, "web1", {}, now, 48 * kHour).stale, 0u);

  // Accounts from the node's root: those without a snapshot are listed and stale.
  test::TempDir dir;
  for (const char* n : {"alice", "dave"}) ::mkdir(dir.sub(n).c_str(), 0755);
  s = node_status(*repo, "web1", discover_accounts(dir.path(), {}), now, 48 * kHour);
  ASSERT_EQ(s.accounts.size(), 3u);
  EXPECT_EQ(s.accounts[2].account, "dave");
  EXPECT_FALSE(s.accounts[2].snapshot_id);
  EXPECT_FALSE(s.accounts[2].complete_id);
  EXPECT_TRUE(s.accounts[2].stale);
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.missing, 1u);
}

}  // namespace
}  // namespace lifeboat::node
