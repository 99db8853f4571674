#include "node/node_restore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "base/error.h"
#include "node/node_backup.h"
#include "node/ready_hooks.h"
#include "support/mem_repo.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat::node {
namespace {

std::string random_text(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A node whose accounts differ in size by a factor of ~100 (account i holds
// i*i*4 KiB of its own) and all share a 128 KiB "CMS core".
struct TestNode {
  test::TempDir dir;
  std::string root = dir.sub("home");
  test::MemRepo r;
  std::vector<std::string> names;
  explicit TestNode(int n) {
    ::mkdir(root.c_str(), 0755);
    const std::string core = random_text(128 << 10, 7);
    for (int i = 0; i < n; ++i) {
      // Names in reverse size order, so "by name" and "by size" differ.
      std::string name = "acct" + std::to_string(100 + n - i);
      std::string d = root + "/" + name;
      ::mkdir(d.c_str(), 0750);
      ::mkdir((d + "/public_html").c_str(), 0755);
      write_file(d + "/public_html/core.php", core);
      write_file(d + "/own.bin", random_text(static_cast<size_t>(1 + i * i) * 4096, 100 + static_cast<uint64_t>(i)));
      names.push_back(name);
    }
    NodeBackupOptions o;
    o.root = root;
    o.node = "web209";
    o.accounts = names;
    NodeBackupResult b = run_node_backup(*r.repo, o);
    EXPECT_TRUE(b.all_ok());
  }
  NodeRestoreOptions options(const std::string& target) {
    NodeRestoreOptions o;
    o.node = "web209";
    o.target = dir.sub(target);
    return o;
  }
};

// Records the library's events in order.
struct Events {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> list;  // (event, account)
  void attach(NodeRestoreOptions& o) {
    o.on_event = [this](const std::string& account, const std::string& what, const std::string&) {
      std::lock_guard lock(mu);
      list.emplace_back(what, account);
    };
  }
  std::vector<std::string> of(const std::string& what) {
    std::vector<std::string> out;
    for (const auto& [w, a] : list)
      if (w == what) out.push_back(a);
    return out;
  }
};

TEST(NodeRestore, OrderPutsPriorityFirstThenSmallestNameOrLargest) {
  std::vector<std::pair<std::string, uint64_t>> accts = {
      {"delta", 40}, {"alpha", 300}, {"carol", 10}, {"bravo", 10}, {"echo", 5}};
  auto names = [&](std::vector<size_t> idx) {
    std::vector<std::string> out;
    for (size_t i : idx) out.push_back(accts[i].first);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(restore_order(accts, {}, RestoreOrder::kSmallest)),
            (V{"echo", "bravo", "carol", "delta", "alpha"}));
  EXPECT_EQ(names(restore_order(accts, {}, RestoreOrder::kName)),
            (V{"alpha", "bravo", "carol", "delta", "echo"}));
  EXPECT_EQ(names(restore_order(accts, {}, RestoreOrder::kLargest)),
            (V{"alpha", "delta", "bravo", "carol", "echo"}));
  EXPECT_EQ(names(restore_order(accts, {"delta", "nobody", "alpha"}, RestoreOrder::kSmallest)),
            (V{"delta", "alpha", "echo", "bravo", "carol"}));
  EXPECT_EQ(parse_restore_order("size"), RestoreOrder::kSmallest);
  EXPECT_THROW(parse_restore_order("random"), Error);
}

TEST(NodeRestore, NewestPerAccountHonoursTheNodeAndAt) {
  auto snap = [](std::string node, std::string account, UnixNanos t) {
    repo::Snapshot s;
    s.node = std::move(node);
    s.account = std::move(account);
    s.time = t;
    return s;
  };
  std::vector<std::pair<Id, repo::Snapshot>> all;
  auto id = [](uint8_t b) {
    Id x;
    x.bytes[0] = b;
    return x;
  };
  all.emplace_back(id(1), snap("web209", "alice", 100));
  all.emplace_back(id(2), snap("web209", "alice", 300));
  all.emplace_back(id(3), snap("web209", "bob", 200));
  all.emplace_back(id(4), snap("other", "carol", 250));
  auto newest = newest_per_account(all, "web209", std::nullopt);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].first, id(2));
  EXPECT_EQ(newest[1].first, id(3));
  auto at = newest_per_account(all, "web209", UnixNanos{250});
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0].first, id(1));
  EXPECT_EQ(newest_per_account(all, "web209", UnixNanos{50}).size(), 0u);
  // A partial snapshot is taken only if nothing complete exists (or asked).
  all.emplace_back(id(5), snap("web209", "alice", 400));
  all.back().second.partial = true;
  all.emplace_back(id(6), snap("web209", "dave", 500));
  all.back().second.partial = true;
  auto complete = newest_per_account(all, "web209", std::nullopt);
  ASSERT_EQ(complete.size(), 3u);
  EXPECT_EQ(complete[0].first, id(2));  // alice: the complete one, not the newer partial
  EXPECT_EQ(complete[2].first, id(6));  // dave: only partial ones
  EXPECT_EQ(newest_per_account(all, "web209", std::nullopt, true)[0].first, id(5));
}

TEST(NodeRestore, EveryAccountExactReadyInSizeOrderHookAfterVerification) {
  TestNode n(12);
  auto o = n.options("out");
  o.fetch_threads = 1;  // one fetcher and one worker: the order is exact
  o.worker_threads = 1;
  const std::string log = n.dir.sub("hooks.log");
  // The hook records the account and its core file's size: the account is
  // complete (and verified) when its hook runs.
  o.ready_hook = "stat -c \"$LIFEBOAT_ACCOUNT %s {account}\" \"$LIFEBOAT_ACCOUNT_DIR/public_html/core.php\" >> " + log;
  Events ev;
  ev.attach(o);
  NodeRestoreResult r = run_node_restore(*n.r.repo, o);
  EXPECT_TRUE(r.all_ready());
  EXPECT_EQ(r.ready, 12u);
  ASSERT_EQ(r.accounts.size(), 12u);
  // Restore order: smallest first = the reverse of the names here.
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(r.accounts[i].account, n.names[i]);
    EXPECT_EQ(r.accounts[i].state, AccountState::kReady);
    EXPECT_GE(r.accounts[i].online, r.accounts[i].ready);
    EXPECT_EQ(r.accounts[i].attempts, 1);
  }
  // Content lands in that order (one fetcher, one worker: exactly); then
  // each account is verified on a finisher thread and becomes ready.
  for (size_t i = 1; i < 12; ++i)
    EXPECT_LE(r.accounts[i - 1].restored, r.accounts[i].restored) << n.names[i];
  for (const auto& a : r.accounts) EXPECT_LE(a.restored, a.ready) << a.account;
  EXPECT_EQ(ev.of("ready").size(), 12u);
  // Each account's "online" follows its "ready"; each hook ran once.
  for (const auto& name : n.names) {
    size_t ready_at = SIZE_MAX, online_at = SIZE_MAX;
    for (size_t k = 0; k < ev.list.size(); ++k) {
      if (ev.list[k].second != name) continue;
      if (ev.list[k].first == "ready") ready_at = k;
      if (ev.list[k].first == "online") online_at = k;
    }
    EXPECT_LT(ready_at, online_at) << name;
  }
  std::string hooks = read_text(log);
  for (const auto& name : n.names)
    EXPECT_NE(hooks.find(name + " 131072 " + name + "\n"), std::string::npos) << hooks;
  EXPECT_EQ(std::count(hooks.begin(), hooks.end(), '\n'), 12);
  // Byte- and metadata-exact.
  for (const auto& name : n.names) {
    auto diffs = test::compare_trees(n.root + "/" + name, o.target + "/" + name);
    EXPECT_TRUE(diffs.empty()) << name << ": " << diffs.front();
  }
  // The core was fetched once, written twelve times.
  EXPECT_LT(r.bytes_fetched + 10 * (128u << 10), r.bytes_written);
  EXPECT_GE(r.ready_100, r.ready_90);
  EXPECT_GE(r.ready_90, r.ready_50);
  EXPECT_GT(r.ready_50, 0);
  std::string csv = read_text(o.target + "/.lifeboat-restore/timeline.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 13);
  EXPECT_NE(read_text(o.target + "/.lifeboat-restore/timeline.json").find("\"ready_50_s\""),
            std::string::npos);
}

TEST(NodeRestore, PriorityAndNameOrder) {
  TestNode n(5);
  auto o = n.options("out");
  o.order = RestoreOrder::kName;
  o.priority = {n.names[2]};
  NodeRestoreResult r = run_node_restore(*n.r.repo, o);
  ASSERT_EQ(r.accounts.size(), 5u);
  EXPECT_EQ(r.accounts[0].account, n.names[2]);
  // names[] is in descending name order; the rest follow by name.
  EXPECT_EQ(r.accounts[1].account, n.names[4]);
  EXPECT_EQ(r.accounts[4].account, n.names[0]);
}

TEST(NodeRestore, ADamagedAccountIsRetriedThenReportedAndBlocksNoOne) {
  TestNode n(6);
  // Damage the content unique to one account (its own.bin) in the pack.
  const std::string victim = n.names[3];
  const std::string own = read_text(n.root + "/" + victim + "/own.bin");
  Id blob = n.r.repo->hash(ByteView(reinterpret_cast<const uint8_t*>(own.data()), own.size()));
  auto loc = n.r.repo->index().find(blob);
  ASSERT_TRUE(loc) << "own.bin is one chunk";
  backend::Handle h{backend::ObjectType::kData, loc->pack.hex()};
  Bytes pack = n.r.be->load(h, 0, 0);
  pack[loc->entry.offset + 17] ^= 0x40;
  n.r.be->corrupt(h, pack);

  auto o = n.options("out");
  o.ready_hook = "echo {account} >> " + n.dir.sub("hooks.log");
  Events ev;
  ev.attach(o);
  NodeRestoreResult r = run_node_restore(*n.r.repo, o);
  EXPECT_FALSE(r.all_ready());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.ready, 5u);
  for (const auto& a : r.accounts) {
    if (a.account == victim) {
      EXPECT_EQ(a.state, AccountState::kFailed);
      EXPECT_EQ(a.attempts, 2);  // retried once
      EXPECT_GT(a.errors, 0u);
      EXPECT_LT(a.ready, 0);
    } else {
      EXPECT_EQ(a.state, AccountState::kReady) << a.account << ": " << a.error;
      auto diffs = test::compare_trees(n.root + "/" + a.account, o.target + "/" + a.account);
      EXPECT_TRUE(diffs.empty()) << a.account;
    }
  }
  EXPECT_EQ(ev.of("failed"), std::vector<std::string>{victim});
  std::string hooks = read_text(n.dir.sub("hooks.log"));
  EXPECT_EQ(hooks.find(victim), std::string::npos) << "a failed account was brought online";
  EXPECT_EQ(std::count(hooks.begin(), hooks.end(), '\n'), 5);
}

TEST(NodeRestore, FailingAndHangingHooksAreReportedPerAccount) {
  TestNode n(3);
  auto o = n.options("out");
  // The first account's hook fails loudly, the second's hangs.
  o.ready_hook = "case {account} in " + n.names[0] + ") echo 'vhost config broken' >&2; exit 4;; " +
                 n.names[1] + ") sleep 30;; esac; true";
  o.hook_timeout_seconds = 1;
  auto started = std::chrono::steady_clock::now();
  NodeRestoreResult r = run_node_restore(*n.r.repo, o);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
  EXPECT_EQ(r.hook_failed, 2u);
  EXPECT_EQ(r.ready, 1u);
  EXPECT_EQ(r.accounts[0].state, AccountState::kHookFailed);
  EXPECT_NE(r.accounts[0].error.find("failed (exit status 4): vhost config broken"), std::string::npos)
      << r.accounts[0].error;
  EXPECT_NE(r.accounts[1].error.find("timed out after 1 s"), std::string::npos)
      << r.accounts[1].error;
  EXPECT_LT(r.accounts[1].online, 0);
  EXPECT_GE(r.accounts[2].online, 0);
}

TEST(NodeRestore, StateIsResumedRefusedOrRestarted) {
  TestNode n(4);
  auto o = n.options("out");
  o.ready_hook = "echo {account} >> " + n.dir.sub("hooks.log");
  NodeRestoreResult first = run_node_restore(*n.r.repo, o);
  ASSERT_TRUE(first.all_ready());

  try {
    run_node_restore(*n.r.repo, o);
    FAIL() << "an earlier run's state was overwritten";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(e.message().find("--resume"), std::string::npos);
  }

  // Everything was ready and online: a resume restores nothing, runs no hook.
  o.resume = true;
  NodeRestoreResult again = run_node_restore(*n.r.repo, o);
  EXPECT_TRUE(again.all_ready());
  EXPECT_EQ(again.resumed, 4u);
  EXPECT_EQ(again.bytes_written, 0u);
  std::string hooks = read_text(n.dir.sub("hooks.log"));
  EXPECT_EQ(std::count(hooks.begin(), hooks.end(), '\n'), 4);

  // A new backup meanwhile does not change what a resumed run restores;
  // --restart picks the newest snapshots again.
  write_file(n.root + "/" + n.names[0] + "/new.txt", "written after the first restore");
  NodeBackupOptions b;
  b.root = n.root;
  b.node = "web209";
  b.accounts = {n.names[0]};
  ASSERT_TRUE(run_node_backup(*n.r.repo, b).all_ok());
  NodeRestoreResult resumed = run_node_restore(*n.r.repo, o);
  EXPECT_EQ(resumed.accounts[0].snapshot_id, first.accounts[0].snapshot_id);
  o.resume = false;
  o.restart = true;
  NodeRestoreResult restarted = run_node_restore(*n.r.repo, o);
  EXPECT_TRUE(restarted.all_ready());
  EXPECT_EQ(restarted.resumed, 0u);
  EXPECT_NE(restarted.accounts[0].snapshot_id, first.accounts[0].snapshot_id);
  EXPECT_EQ(read_text(o.target + "/" + n.names[0] + "/new.txt"), "written after the first restore");
}

TEST(NodeRestore, UnknownNodeOrAccountIsNotFound) {
  TestNode n(2);
  auto o = n.options("out");
  o.node = "web999";
  try {
    run_node_restore(*n.r.repo, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(e.message().find("web999"), std::string::npos);
  }
  o = n.options("out2");
  o.accounts = {n.names[0], "ghost"};
  try {
    run_node_restore(*n.r.repo, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(e.message().find("ghost"), std::string::npos);
  }
  o.accounts = {n.names[1]};
  NodeRestoreResult r = run_node_restore(*n.r.repo, o);
  ASSERT_EQ(r.accounts.size(), 1u);
  EXPECT_EQ(r.accounts[0].account, n.names[1]);
}

TEST(ReadyHooks, CommandLineQuotesTheAccount) {
  EXPECT_EQ(hook_command_line("enable", "alice"), "enable 'alice'");
  EXPECT_EQ(hook_command_line("a {account} b {account}", "it's"), "a 'it'\\''s' b 'it'\\''s'");
  EXPECT_EQ(hook_command_line("echo \"{account}\"", "$(x)"), "echo \"\\$(x)\"");
  EXPECT_THROW(hook_command_line("echo $(date) {account}", "a"), Error);
}

}  // namespace
}  // namespace lifeboat::node
