#include "node/node_backup.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>

#include "backend/fault_backend.h"
#include "backend/mem_backend.h"
#include "base/error.h"
#include "check/checker.h"
#include "node/accounts.h"
#include "support/mem_repo.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

using Fixture = test::MemRepo;

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  ASSERT_TRUE(f.good()) << path;
}

// A node of `n` accounts; each holds the same three 64 KiB files (a shared
// CMS install) plus one small file of its own.
std::vector<std::string> make_node(const std::string& root, int n) {
  ::mkdir(root.c_str(), 0755);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "acct%02d", i);
    std::string dir = root + "/" + name;
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/public_html").c_str(), 0755);
    for (int k = 0; k < 3; ++k)
      write_file(dir + "/public_html/lib" + std::to_string(k) + ".php", random_bytes(64 << 10, 100 + k));
    write_file(dir + "/own.txt", random_bytes(1000, 1000 + i));
    names.push_back(name);
  }
  return names;
}

NodeBackupOptions options_for(const std::string& root, std::vector<std::string> accounts) {
  NodeBackupOptions o;
  o.root = root;
  o.node = "web209";
  o.accounts = std::move(accounts);
  o.tags = {"daily"};
  return o;
}

TEST(NodeBackup, OneSnapshotPerAccountSharedContentStoredOnce) {
  test::TempDir dir;
  std::string root = dir.sub("home");
  auto names = make_node(root, 20);
  Fixture f;
  auto o = options_for(root, discover_accounts(root, {}));
  ASSERT_EQ(o.accounts, names);
  std::vector<std::string> done;
  o.on_account_done = [&](const AccountResult& r) { done.push_back(r.account); };
  NodeBackupResult n = run_node_backup(*f.repo, o);
  EXPECT_TRUE(n.all_ok());
  EXPECT_EQ(n.ok, 20u);
  EXPECT_EQ(done.size(), 20u);
  ASSERT_EQ(n.accounts.size(), 20u);
  uint64_t sum = 0;
  for (size_t i = 0; i < n.accounts.size(); ++i) {
    const AccountResult& r = n.accounts[i];
    EXPECT_EQ(r.account, names[i]);
    EXPECT_EQ(r.result, AccountOutcome::kOk) << r.error;
    EXPECT_EQ(r.files, 4u);
    EXPECT_EQ(r.bytes_total, 3u * (64 << 10) + 1000);
    ASSERT_TRUE(r.snapshot_id);
    EXPECT_FALSE(r.parent_id);
    sum += r.bytes_total;
  }
  EXPECT_EQ(n.bytes_total, sum);
  // The shared files are stored once: the node adds about one account's
  // shared set plus 20 small files (and trees), far below the sum.
  EXPECT_LT(n.bytes_added, sum / 5) << n.bytes_added;
  EXPECT_GE(n.bytes_added, 3u * (64 << 10) + 20 * 1000);

  auto snaps = f.repo->list_snapshots();
  ASSERT_EQ(snaps.size(), 20u);
  std::vector<std::string> accounts;
  for (const auto& [id, s] : snaps) {
    EXPECT_EQ(s.node, "web209");
    EXPECT_EQ(s.tags, (std::vector<std::string>{"node:web209", "daily"}));
    ASSERT_EQ(s.paths.size(), 1u);
    char real[PATH_MAX];
    ASSERT_NE(::realpath(root.c_str(), real), nullptr);
    EXPECT_EQ(s.paths[0], std::string(real) + "/" + s.account);
    EXPECT_FALSE(s.partial);
    accounts.push_back(s.account);
  }
  std::sort(accounts.begin(), accounts.end());
  EXPECT_EQ(accounts, names);

  // Second run: every account finds its parent and nothing is read again.
  NodeBackupResult n2 = run_node_backup(*f.repo, o);
  EXPECT_TRUE(n2.all_ok());
  EXPECT_EQ(n2.bytes_read, 0u);
  for (size_t i = 0; i < n2.accounts.size(); ++i) {
    EXPECT_EQ(n2.accounts[i].bytes_read, 0u) << names[i];
    ASSERT_TRUE(n2.accounts[i].parent_id);
    EXPECT_EQ(*n2.accounts[i].parent_id, *n.accounts[i].snapshot_id);
  }
  EXPECT_EQ(f.repo->list_snapshots().size(), 40u);
}

// Accounts run concurrently through one Repository: every snapshot is
// complete in the repository (checked from a fresh open that knows only
// what was written), and each account is credited with exactly the blobs
// its own backup stored.
TEST(NodeBackup, ConcurrentAccountsAreCompleteAndCreditedExactly) {
  test::TempDir dir;
  std::string root = dir.sub("home");
  auto names = make_node(root, 24);
  Fixture f;
  auto o = options_for(root, names);
  o.parallel_accounts = 4;
  std::atomic<int> running{0}, most{0};
  o.on_account_start = [&](const std::string&) {
    int now = ++running;
    most = std::max(most.load(), now);
  };
  o.on_account_done = [&](const AccountResult&) { --running; };
  NodeBackupResult n = run_node_backup(*f.repo, o);
  ASSERT_TRUE(n.all_ok());
  EXPECT_GT(most.load(), 1);  // accounts did overlap
  uint64_t credited = 0;
  for (const auto& r : n.accounts) credited += r.bytes_added;
  EXPECT_EQ(credited, n.bytes_added);
  EXPECT_LT(n.bytes_added, n.bytes_total / 5);

  auto fresh = repo::Repository::open(f.be, "pw");
  fresh->load_index();
  check::CheckOptions co;
  co.read_data = true;
  check::CheckReport report = check::run_check(*fresh, co);
  EXPECT_TRUE(report.ok()) << report.problems.size() << " problems, first: "
                           << (report.problems.empty() ? "" : report.problems[0].message);
  EXPECT_EQ(report.snapshots, 24u);
}

// A repository that fails every write stops the node backup with an error
// (no hang, no snapshot), with several accounts running at once.
TEST(NodeBackup, RepositoryThatFailsEveryWriteStopsTheNodeBackup) {
  test::TempDir dir;
  std::string root = dir.sub("home");
  auto names = make_node(root, 8);
  for (uint64_t fail_at : {uint64_t{1}, uint64_t{3}}) {
    auto mem = std::make_shared<backend::MemBackend>();
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {});
    auto fault = std::make_shared<backend::FaultBackend>(mem);
    auto repo = repo::Repository::open(fault, "pw");
    fault->fail_save_at(fault->saves() + fail_at, true);
    auto o = options_for(root, names);
    o.parallel_accounts = 3;
    EXPECT_THROW(run_node_backup(*repo, o), Error) << "fail_at " << fail_at;
    size_t snapshots = 0;
    mem->list(backend::ObjectType::kSnapshot, [&](std::string_view, uint64_t) { ++snapshots; });
    EXPECT_EQ(snapshots, 0u) << "fail_at " << fail_at;
  }
}

// The live view: every account counted once, running ones included, and an
// estimate of the node's bytes once every account has a previous snapshot.
TEST(NodeBackup, ProgressCountsEveryAccountAndEstimatesFromParents) {
  test::TempDir dir;
  std::string root = dir.sub("home");
  auto names = make_node(root, 6);
  Fixture f;
  auto o = options_for(root, names);
  o.accounts.push_back("ghost");  // fails: still counted as done
  NodeBackupProgress progress;
  o.progress = &progress;
  size_t max_running = 0;
  o.on_account_done = [&](const AccountResult&) {
    max_running = std::max(max_running, progress.view().running.size());
  };
  NodeBackupResult n = run_node_backup(*f.repo, o);
  NodeBackupProgress::View v = progress.view();
  EXPECT_EQ(v.accounts_total, 7u);
  EXPECT_EQ(v.accounts_done, 7u);
  EXPECT_TRUE(v.running.empty());
  EXPECT_EQ(v.files, n.files);
  EXPECT_EQ(v.bytes, n.bytes_total);
  EXPECT_EQ(v.bytes_expected, 0u);  // no previous snapshots (and a ghost)
  EXPECT_LE(max_running, o.parallel_accounts);

  o.accounts.pop_back();
  NodeBackupProgress again;
  o.progress = &again;
  o.on_account_done = nullptr;
  run_node_backup(*f.repo, o);
  EXPECT_EQ(again.view().bytes_expected, n.bytes_total);
}

TEST(NodeBackup, OneBrokenAccountFailsAloneAndTheNodeIsPartial) {
  test::TempDir dir;
  std::string root = dir.sub("home");
  auto names = make_node(root, 6);
  Fixture f;
  auto o = options_for(root, discover_accounts(root, {}));
  // Between discovery and backup: one account vanishes, one becomes a file,
  // and the accounts file names one that never existed.
  test::remove_tree(root + "/acct02");
  test::remove_tree(root + "/acct04");
  write_file(root + "/acct04", "not a directory");
  o.accounts.push_back("ghost");
  NodeBackupResult n = run_node_backup(*f.repo, o);
  EXPECT_FALSE(n.all_ok());
  EXPECT_EQ(n.ok, 4u);
  EXPECT_EQ(n.failed, 3u);
  for (const auto& r : n.accounts) {
    bool broken = r.account == "acct02" || r.account == "acct04" || r.account == "ghost";
    EXPECT_EQ(r.result, broken ? AccountOutcome::kFailed : AccountOutcome::kOk) << r.account;
    EXPECT_EQ(r.snapshot_id.has_value(), !broken) << r.account;
    EXPECT_EQ(r.error.empty(), !broken) << r.account << ": " << r.error;
  }
  EXPECT_EQ(f.repo->list_snapshots().size(), 4u);
}

TEST(NodeBackup, FindParentPicksNewestOfSameAccountNodeAndPath) {
  auto snap = [](std::string account, std::string node, std::string path, UnixNanos t) {
    repo::Snapshot s;
    s.account = std::move(account);
    s.node = std::move(node);
    s.paths = {std::move(path)};
    s.time = t;
    return s;
  };
  std::vector<std::pair<Id, repo::Snapshot>> all;
  Id a, b, c, d;
  a.bytes[0] = 1, b.bytes[0] = 2, c.bytes[0] = 3, d.bytes[0] = 4;
  all.emplace_back(a, snap("x", "n1", "/home/x", 1));
  all.emplace_back(b, snap("x", "n1", "/home/x", 2));
  all.emplace_back(c, snap("x", "n2", "/home/x", 3));
  all.emplace_back(d, snap("x", "n1", "/srv/x", 4));
  auto p = find_parent(all, "x", "n1", "/home/x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, b);
  EXPECT_FALSE(find_parent(all, "y", "n1", "/home/x"));
}

}  // namespace
}  // namespace lifeboat::node
