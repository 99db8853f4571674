#include "node/plan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "backend/fault_backend.h"
#include "backend/mem_backend.h"
#include "node/node_backup.h"
#include "support/files.h"
#include "support/mem_repo.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

constexpr int64_t kHour = 3600LL * 1000000000LL;
constexpr UnixNanos kNow = 1'800'000'000LL * 1000000000LL;
constexpr size_t kShared = 3;
constexpr size_t kSharedSize = 64 << 10;

size_t own_size(int i) { return 2000 * static_cast<size_t>(i + 1); }

// A node whose accounts share a CMS core (kShared files of 64 KiB, the same
// bytes everywhere) and each hold one file of their own, account i's of
// own_size(i) bytes, so the smallest-first order is acct00, acct01, ...
std::vector<std::string> make_node(const std::string& root, int n) {
  ::mkdir(root.c_str(), 0755);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    std::string name = "acct0" + std::to_string(i);
    std::string dir = root + "/" + name;
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/public_html").c_str(), 0755);
    for (size_t k = 0; k < kShared; ++k)
      test::write_file(dir + "/public_html/core" + std::to_string(k) + ".php",
                       test::seeded_bytes(kSharedSize, 100 + k));
    test::write_file(dir + "/own.dat", test::seeded_bytes(own_size(i), 1000 + i));
    names.push_back(name);
  }
  return names;
}

// Backs the node up into `repo` with snapshots stamped `when`.
void backup(repo::Repository& repo, const std::string& root, std::vector<std::string> accounts,
            UnixNanos when) {
  NodeBackupOptions o;
  o.root = root;
  o.node = "web209";
  o.accounts = std::move(accounts);
  o.clock = [when] { return when; };
  ASSERT_TRUE(run_node_backup(repo, o).all_ok());
}

PlanOptions options() {
  PlanOptions o;
  o.node = "web209";
  o.now = kNow;
  o.probe.seconds = 0.3;
  return o;
}

const AccountPlan& account(const RepoPlan& p, const std::string& name) {
  for (const auto& a : p.accounts)
    if (a.account == name) return a;
  throw std::runtime_error("no account " + name);
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override { names_ = make_node(root_, 6); }
  test::TempDir dir_;
  std::string root_ = dir_.sub("home");
  std::vector<std::string> names_;
};

TEST_F(PlanTest, SharedContentIsFetchedOnceAndChargedToTheSmallestAccount) {
  test::MemRepo m;
  backup(*m.repo, root_, names_, kNow - 2 * kHour);
  RepoPlan p = plan_repository(*m.repo, options());
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_TRUE(p.warnings.empty()) << p.warnings[0];
  ASSERT_EQ(p.accounts.size(), 6u);

  const ContentTotals& c = p.content;
  uint64_t own = 0;
  for (int i = 0; i < 6; ++i) own += own_size(i);
  EXPECT_EQ(c.restorable, 6u);
  EXPECT_EQ(c.bytes_total, 6 * kShared * kSharedSize + own);
  EXPECT_EQ(c.files, 6u * (kShared + 1));
  EXPECT_EQ(c.blobs, kShared + 6);  // the core once, one own file per account
  EXPECT_EQ(c.unique_bytes, kShared * kSharedSize + own);
  EXPECT_LT(c.unique_bytes, c.bytes_total / 4);
  EXPECT_GE(c.stored_bytes, c.unique_bytes);  // random bytes do not compress; AEAD adds tags
  EXPECT_LT(c.stored_bytes, c.bytes_total / 4);
  EXPECT_GE(c.packs, 1u);
  EXPECT_GE(c.ranges, 6u);  // at least one read per account
  EXPECT_GE(c.read_bytes, c.stored_bytes);  // reads may span gaps
  EXPECT_GT(c.trees, 6u);
  EXPECT_EQ(c.missing_blobs, 0u);
  EXPECT_EQ(c.unreadable_trees, 0u);

  // Smallest first; the first account carries the shared core.
  for (int i = 0; i < 6; ++i) {
    const AccountPlan& a = account(p, names_[i]);
    EXPECT_EQ(a.order, static_cast<size_t>(i));
    EXPECT_EQ(a.blobs, i == 0 ? kShared + 1 : 1u) << a.account;
    EXPECT_EQ(a.unique_bytes, (i == 0 ? kShared * kSharedSize : 0) + own_size(i));
    EXPECT_DOUBLE_EQ(a.age_seconds, 2 * 3600.0);
    EXPECT_FALSE(a.stale);
    EXPECT_EQ(a.snapshot_id, a.complete_id);
  }
  EXPECT_EQ(p.stale, 0u);
  EXPECT_EQ(p.rpo.accounts, 6u);
  EXPECT_DOUBLE_EQ(p.rpo.max_age_seconds, 2 * 3600.0);

  // The probe read real ranges and the estimate is ordered.
  EXPECT_TRUE(p.probe.ran);
  EXPECT_TRUE(p.probe.ok()) << p.probe.error;
  EXPECT_GT(p.probe.bytes, 0u);
  ASSERT_TRUE(p.rto.known) << p.rto.unknown_reason;
  EXPECT_GT(p.rto.total_seconds, 0);
  EXPECT_LE(p.rto.ready50, p.rto.ready90);
  EXPECT_LE(p.rto.ready90, p.rto.ready100);
  EXPECT_DOUBLE_EQ(p.rto.ready100, p.rto.total_seconds);
  EXPECT_DOUBLE_EQ(account(p, names_[2]).ready_seconds, p.rto.ready50);  // 3rd of 6
  EXPECT_DOUBLE_EQ(account(p, names_[5]).ready_seconds, p.rto.ready90);  // ceil(5.4) = 6th
}

TEST(PlanSelect, NewestCompleteSnapshotPartialOnesAtAndAccounts) {
  std::vector<std::pair<Id, repo::Snapshot>> snaps;
  auto add = [&](const std::string& account, const std::string& node, UnixNanos t, bool partial,
                 uint64_t bytes) {
    repo::Snapshot s;
    s.account = account;
    s.node = node;
    s.time = t;
    s.partial = partial;
    s.summary.bytes_total = bytes;
    s.summary.files_new = 2;
    s.summary.dirs = 1;
    Id id;
    id.bytes[0] = static_cast<uint8_t>(snaps.size() + 1);
    snaps.emplace_back(id, s);
    return id;
  };
  Id alice_old = add("alice", "web209", kNow - 50 * kHour, false, 100);
  Id alice_ok = add("alice", "web209", kNow - 20 * kHour, false, 110);
  Id alice_partial = add("alice", "web209", kNow - 2 * kHour, true, 120);
  Id bob_partial = add("bob", "web209", kNow - 1 * kHour, true, 10);
  add("carol", "web1", kNow - 1 * kHour, false, 5);  // another node

  PlanOptions o = options();
  RepoPlan p = select_snapshots(snaps, o);
  ASSERT_EQ(p.accounts.size(), 2u);
  const AccountPlan& alice = p.accounts[0];
  EXPECT_EQ(alice.snapshot_id, alice_ok);  // a partial snapshot is not complete
  EXPECT_EQ(alice.complete_id, alice_ok);
  EXPECT_EQ(alice.newer_partial_id, alice_partial);
  EXPECT_DOUBLE_EQ(alice.age_seconds, 20 * 3600.0);
  EXPECT_FALSE(alice.stale);
  EXPECT_EQ(alice.bytes_total, 110u);
  EXPECT_EQ(alice.files, 2u);
  EXPECT_EQ(alice.entries, 3u);
  const AccountPlan& bob = p.accounts[1];
  EXPECT_EQ(bob.snapshot_id, bob_partial);  // nothing better to restore
  EXPECT_TRUE(bob.snapshot_partial);
  EXPECT_FALSE(bob.complete_id);
  EXPECT_TRUE(bob.stale);
  EXPECT_EQ(p.partial_only, 1u);
  EXPECT_EQ(p.stale, 1u);
  EXPECT_EQ(bob.order, 0u);  // smaller
  EXPECT_EQ(alice.order, 1u);
  EXPECT_EQ(p.rpo.accounts, 1u);

  // A shorter max age makes alice stale too.
  o.max_age_ns = 10 * kHour;
  EXPECT_EQ(select_snapshots(snaps, o).stale, 2u);

  // As of 30 hours ago: only alice's oldest snapshot existed, 20 hours old then.
  o = options();
  o.at = kNow - 30 * kHour;
  p = select_snapshots(snaps, o);
  ASSERT_EQ(p.accounts.size(), 1u);
  EXPECT_EQ(p.accounts[0].snapshot_id, alice_old);
  EXPECT_DOUBLE_EQ(p.accounts[0].age_seconds, 20 * 3600.0);

  // Only some accounts; one the repository does not have is missing.
  o = options();
  o.accounts = {"alice", "dave"};
  p = select_snapshots(snaps, o);
  ASSERT_EQ(p.accounts.size(), 2u);
  EXPECT_EQ(p.accounts[0].account, "alice");
  EXPECT_EQ(p.accounts[1].account, "dave");
  EXPECT_TRUE(p.accounts[1].missing);
  EXPECT_TRUE(p.accounts[1].stale);
  EXPECT_EQ(p.missing, 1u);
  EXPECT_EQ(p.content.restorable, 1u);
}

// Opens a second Repository on a backend (as the CLI does per --repo).
RepoSource source(std::string location, std::shared_ptr<backend::Backend> be) {
  return RepoSource{std::move(location), [be] {
                      auto r = repo::Repository::open(be, "pw");
                      r->load_index();
                      return r;
                    }};
}

TEST_F(PlanTest, TwoRepositoriesOfDifferentAgesAndOneThatCannotBeOpened) {
  test::MemRepo old_repo, fresh_repo;
  std::vector<std::string> fewer(names_.begin(), names_.end() - 1);
  backup(*old_repo.repo, root_, fewer, kNow - 30 * kHour);   // stale, and lacks acct05
  backup(*fresh_repo.repo, root_, names_, kNow - 3 * kHour);
  auto empty = std::make_shared<backend::MemBackend>();  // holds no repository

  PlanProgress progress;
  PlanOptions o = options();
  o.progress = &progress;
  NodePlan n = plan_node({source("old", old_repo.be), source("nothing", empty),
                          source("fresh", fresh_repo.be)},
                         o);
  ASSERT_EQ(n.repos.size(), 3u);
  const RepoPlan& a = n.repos[0];
  const RepoPlan& bad = n.repos[1];
  const RepoPlan& b = n.repos[2];
  ASSERT_TRUE(a.ok()) << a.error;
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.location, "nothing");
  EXPECT_EQ(bad.error_code, ErrorCode::kNotARepository) << bad.error;
  EXPECT_TRUE(bad.accounts.empty());

  EXPECT_EQ(a.accounts.size(), 6u);  // acct05 listed, missing
  EXPECT_TRUE(account(a, "acct05").missing);
  EXPECT_EQ(a.missing, 1u);
  EXPECT_EQ(a.stale, 6u);
  EXPECT_DOUBLE_EQ(a.rpo.max_age_seconds, 30 * 3600.0);
  EXPECT_EQ(b.stale, 0u);
  EXPECT_DOUBLE_EQ(b.rpo.median_age_seconds, 3 * 3600.0);
  EXPECT_GT(b.open_seconds, 0);
  EXPECT_GT(progress.trees.load(), 0u);
  EXPECT_EQ(progress.probing.load(), -1);

  ASSERT_TRUE(n.recommendation.repo);
  EXPECT_EQ(*n.recommendation.repo, 2u);
  EXPECT_EQ(n.recommendation.decided_by, Decided::kStale);
}

TEST_F(PlanTest, ASlowerRepositoryMeasuresLowerThroughputAndALongerRto) {
  test::MemRepo m;
  backup(*m.repo, root_, names_, kNow - 1 * kHour);
  auto slow = std::make_shared<backend::FaultBackend>(m.be);
  slow->slow_loads(backend::ObjectType::kData, std::chrono::milliseconds(20), 2'000'000);

  NodePlan n = plan_node({source("fast", m.be), source("slow", slow)}, options());
  const RepoPlan& fast = n.repos[0];
  const RepoPlan& s = n.repos[1];
  ASSERT_TRUE(fast.probe.ok()) << fast.probe.error;
  ASSERT_TRUE(s.probe.ok()) << s.probe.error;
  EXPECT_GE(s.probe.latency_seconds, 0.020);
  EXPECT_LT(s.probe.bytes_per_second, fast.probe.bytes_per_second);
  EXPECT_LT(s.probe.requests_per_second, fast.probe.requests_per_second);
  // The measured rate is what 4 readers at 2 MB/s minus latency can do.
  EXPECT_LT(s.probe.bytes_per_second, 4 * 2'000'000.0);
  EXPECT_LT(s.probe.transfer_bytes_per_second, 4 * 2'000'000.0 * 1.2);
  ASSERT_TRUE(fast.rto.known && s.rto.known);
  EXPECT_GT(s.rto.fetch_seconds, fast.rto.fetch_seconds);
  EXPECT_GT(s.rto.total_seconds, fast.rto.total_seconds);
  // Same data, same RPO: the faster one (here within the 30 s tie, so as
  // the first given).
  ASSERT_TRUE(n.recommendation.repo);
  EXPECT_EQ(*n.recommendation.repo, 0u);
}

TEST(PlanRecommend, StaleThenRtoWithinTenPercentThenRpo) {
  auto plan = [](size_t stale, bool known, double rto, double oldest) {
    RepoPlan p;
    p.stale = stale;
    p.rto.known = known;
    p.rto.total_seconds = rto;
    p.rpo.accounts = 1;
    p.rpo.max_age_seconds = oldest;
    return p;
  };
  RepoPlan failed;
  failed.error = "no repository";
  // Fewer stale accounts beat a faster restore.
  auto r = recommend({plan(2, true, 60, 10), plan(0, true, 600, 10)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kStale);
  // Within 10% of the fastest: the fresher one.
  r = recommend({plan(0, true, 1000, 7200), plan(0, true, 1080, 3600), plan(0, true, 1200, 60)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kRpo);
  // Within half a minute of the fastest counts as equal too.
  r = recommend({plan(0, true, 10, 7200), plan(0, true, 35, 3600), plan(0, true, 45, 60)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kRpo);
  r = recommend({plan(0, true, 100, 60), plan(0, true, 200, 60)});
  EXPECT_EQ(r.repo, 0u);
  EXPECT_EQ(r.decided_by, Decided::kRto);
  // An estimate beats none.
  r = recommend({plan(0, false, 0, 60), plan(0, true, 1000, 7200)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kRto);
  // Failed repositories are never recommended; a tie goes to the first given.
  r = recommend({failed, plan(0, true, 100, 60), plan(0, true, 101, 60)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kOrder);
  r = recommend({failed, plan(3, false, 0, 60)});
  EXPECT_EQ(r.repo, 1u);
  EXPECT_EQ(r.decided_by, Decided::kOnly);
  EXPECT_FALSE(recommend({failed}).repo);
}

}  // namespace
}  // namespace lifeboat::node
