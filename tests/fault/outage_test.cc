// The outage this project answers (issue 4): the index broke for every
// account whose name begins with 'a' or 'b', the data was all there, and
// those accounts waited for a re-index that could only run after the whole
// restore. Here every index entry those accounts need is removed, or
// damaged, and one whole-node restore brings every account back exactly,
// first attempt, with no repair step and no operator action.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <set>

#include "backend/mem_backend.h"
#include "support/trailer_counter.h"
#include "check/checker.h"
#include "crypto/kdf.h"
#include "node/node_backup.h"
#include "node/node_restore.h"
#include "repo/index_repair.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat {
namespace {

using backend::Handle;
using backend::ObjectType;

using test::TrailerCounter;

const std::vector<std::string> kAccounts = {"alice", "amber", "anna",  "bob",   "bravo",
                                            "carol", "dave",  "erin",  "frank", "grace",
                                            "heidi", "zed"};

bool struck(const std::string& account) { return account[0] == 'a' || account[0] == 'b'; }

struct OutageNode {
  test::TempDir dir;
  std::shared_ptr<backend::MemBackend> mem = std::make_shared<backend::MemBackend>();
  OutageNode() {
    repo::Config cfg = repo::Config::make_new();
    cfg.pack_size = 256 << 10;  // many packs, accounts spread over them
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {}, cfg);
    ::mkdir(dir.sub("home").c_str(), 0755);
    uint64_t seed = 100;
    for (const auto& a : kAccounts) {
      const std::string d = dir.sub("home/" + a);
      ::mkdir(d.c_str(), 0750);
      ::mkdir((d + "/public_html").c_str(), 0755);
      ::mkdir((d + "/public_html/wp-includes").c_str(), 0755);
      test::write_file(d + "/public_html/wp-includes/core.php", test::seeded_bytes(60000, 1));
      test::write_file(d + "/public_html/index.php", test::seeded_bytes(3000, ++seed));
      for (int i = 0; i < 6; ++i)
        test::write_file(d + "/public_html/upload" + std::to_string(i) + ".jpg",
                         test::seeded_bytes(20000 + 7000 * i, ++seed));
    }
    auto repo = repo::Repository::open(mem, "pw");
    node::NodeBackupOptions o;
    o.root = dir.sub("home");
    o.node = "web209";
    o.accounts = kAccounts;
    EXPECT_TRUE(node::run_node_backup(*repo, o).all_ok());
  }

  // Every blob (trees and content) the struck accounts' snapshots need.
  std::set<Id> struck_blobs() {
    auto repo = repo::Repository::open(mem, "pw");
    repo->load_index();
    std::set<Id> out;
    std::function<void(const Id&)> walk = [&](const Id& tree) {
      out.insert(tree);
      for (const auto& n : repo->load_tree(tree).nodes) {
        for (const auto& part : n.content)
          if (!part.is_hole()) out.insert(part.blob);
        if (n.type == repo::NodeType::kDir) walk(n.subtree);
      }
    };
    for (const auto& [id, snap] : repo->list_snapshots())
      if (struck(snap.account)) walk(snap.tree);
    return out;
  }

  // Rewrites every index segment through `edit`, removing the originals.
  // Returns the packs whose listing changed.
  std::set<Id> rewrite_index(const std::function<bool(repo::PackInfo&)>& edit) {
    auto repo = repo::Repository::open(mem, "pw");
    std::vector<std::string> names;
    mem->list(ObjectType::kIndex, [&](std::string_view n, uint64_t) { names.emplace_back(n); });
    std::set<Id> changed;
    for (const auto& name : names) {
      auto packs = repo::decode_index_segment(repo->keys().encryption,
                                              mem->load({ObjectType::kIndex, name}, 0, 0), name);
      for (auto& p : packs)
        if (edit(p)) changed.insert(p.id);
      mem->remove({ObjectType::kIndex, name});
      repo->save_index_segment(packs);
    }
    return changed;
  }

  node::NodeRestoreResult restore(const std::string& target, std::shared_ptr<backend::Backend> be,
                                  std::vector<std::string>* warnings) {
    repo::RepositoryOptions ro;
    ro.warn = [warnings](const std::string& w) { warnings->push_back(w); };
    auto repo = repo::Repository::open(be, "pw", ro);
    repo->load_index();
    node::NodeRestoreOptions o;
    o.node = "web209";
    o.target = dir.sub(target);
    o.retries = 0;  // first attempt or nothing: no second chance hides a wait
    return node::run_node_restore(*repo, o);
  }

  void expect_every_account_exact(const node::NodeRestoreResult& res, const std::string& target) {
    ASSERT_EQ(res.accounts.size(), kAccounts.size());
    EXPECT_TRUE(res.all_ready());
    for (const auto& a : res.accounts) {
      EXPECT_EQ(a.state, node::AccountState::kReady) << a.account << ": " << a.error;
      EXPECT_EQ(a.attempts, 1) << a.account;
      EXPECT_EQ(a.errors, 0u) << a.account;
      auto diffs = test::compare_trees(dir.sub("home/" + a.account), dir.sub(target + "/" + a.account));
      EXPECT_TRUE(diffs.empty()) << a.account << ": " << (diffs.empty() ? "" : diffs[0]);
    }
  }

  size_t pack_count() {
    size_t n = 0;
    mem->list(ObjectType::kData, [&](std::string_view, uint64_t) { ++n; });
    return n;
  }

  // After `repair index --full`, check finds nothing wrong and the restore
  // needs no trailer at all.
  void expect_repair_heals(const std::string& target) {
    repo::IndexRepairOptions full;
    full.full = true;
    repo::IndexRepairResult rep = repo::repair_index(*repo::Repository::open(mem, "pw"), full);
    EXPECT_FALSE(rep.packs_mismatched.empty());
    EXPECT_TRUE(rep.unreadable.empty());
    auto repo = repo::Repository::open(mem, "pw");
    repo->load_index();
    check::CheckOptions co;
    co.read_data = true;
    check::CheckReport report = check::run_check(*repo, co);
    EXPECT_TRUE(report.ok()) << report.problems.size() << " problems, first: "
                             << (report.problems.empty() ? "" : report.problems[0].message);
    auto counter = std::make_shared<TrailerCounter>(mem);
    std::vector<std::string> warnings;
    node::NodeRestoreResult res = restore(target, counter, &warnings);
    expect_every_account_exact(res, target);
    EXPECT_EQ(counter->trailer_reads.load(), 0);
    EXPECT_TRUE(warnings.empty()) << warnings[0];
  }
};

TEST(Outage, EveryIndexEntryOfTheABAccountsRemoved) {
  OutageNode n;
  const std::set<Id> needed = n.struck_blobs();
  ASSERT_GT(needed.size(), 50u);
  // Their entries go; their packs stay listed by the others' entries.
  std::set<Id> touched = n.rewrite_index([&](repo::PackInfo& p) {
    const size_t before = p.entries.size();
    std::erase_if(p.entries, [&](const repo::PackEntry& e) { return needed.count(e.id) > 0; });
    return p.entries.size() != before;
  });
  ASSERT_GT(touched.size(), 3u);
  {
    auto repo = repo::Repository::open(n.mem, "pw");
    repo->load_index();
    for (const Id& id : needed) ASSERT_FALSE(repo->index().contains(id));
  }
  auto counter = std::make_shared<TrailerCounter>(n.mem);
  std::vector<std::string> warnings;
  node::NodeRestoreResult res = n.restore("out", counter, &warnings);
  n.expect_every_account_exact(res, "out");
  // Found by reading trailers, each pack's at most once, and said so.
  EXPECT_LE(counter->trailer_reads.load(), static_cast<int>(n.pack_count()));
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("repair index"), std::string::npos) << warnings.back();

  // check says the index is what is wrong and that no account is lost.
  {
    auto repo = repo::Repository::open(n.mem, "pw");
    repo->load_index();
    check::CheckReport report = check::run_check(*repo, {});
    EXPECT_FALSE(report.ok());
    for (const auto& p : report.problems) {
      auto pack = Id::from_hex(p.object);
      EXPECT_TRUE(pack && touched.count(*pack) > 0) << p.kind << " " << p.object << ": " << p.message;
      EXPECT_TRUE(p.restorable) << p.message;  // nothing lost: the packs hold it all
    }
    EXPECT_EQ(report.problems.size(), touched.size());
    EXPECT_TRUE(report.affected_accounts.empty());
    EXPECT_EQ(report.unaffected_accounts.size(), kAccounts.size());
  }
  n.expect_repair_heals("healed");
}

TEST(Outage, EveryIndexEntryOfTheABAccountsDamaged) {
  OutageNode n;
  const std::set<Id> needed = n.struck_blobs();
  // Their entries point at the wrong bytes.
  std::set<Id> touched = n.rewrite_index([&](repo::PackInfo& p) {
    bool changed = false;
    for (auto& e : p.entries)
      if (needed.count(e.id)) {
        e.offset += 7;
        changed = true;
      }
    return changed;
  });
  ASSERT_GT(touched.size(), 3u);
  ASSERT_LT(touched.size(), n.pack_count());
  auto counter = std::make_shared<TrailerCounter>(n.mem);
  std::vector<std::string> warnings;
  node::NodeRestoreResult res = n.restore("out", counter, &warnings);
  n.expect_every_account_exact(res, "out");
  // Only the trailers of the packs whose entries were wrong are read.
  EXPECT_LE(counter->trailer_reads.load(), static_cast<int>(touched.size()));
  EXPECT_FALSE(warnings.empty());
  n.expect_repair_heals("healed");
}

}  // namespace
}  // namespace lifeboat
