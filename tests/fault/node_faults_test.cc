// Fault injection against a node's repository (issue 4, point 6): damage
// to index segments never stops a restore; damage to a pack costs exactly
// the accounts whose content it held, check names it, and every other
// account restores exactly. The rest of the matrix is in
// object_faults_test.cc (snapshots, trees, keys, config, packs truncated or
// duplicated), stale_index_test.cc (tests/repo) and outage_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "check/checker.h"
#include "node/node_backup.h"
#include "node/node_restore.h"
#include "repo/index_repair.h"
#include "repo/snapshot_repair.h"
#include "restore/restorer.h"
#include "fault/fault_node.h"
#include "support/files.h"
#include "backend/mem_backend.h"
#include "crypto/kdf.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat {
namespace {

using backend::Handle;
using backend::ObjectType;

using test::FaultNode;

enum class SegmentFault { kFlip, kTruncate, kDelete, kDuplicate };

TEST(NodeFaults, IndexSegmentDamageNeverStopsARestoreAndRepairRecoversIt) {
  for (SegmentFault fault :
       {SegmentFault::kFlip, SegmentFault::kTruncate, SegmentFault::kDelete, SegmentFault::kDuplicate}) {
    SCOPED_TRACE(static_cast<int>(fault));
    FaultNode n;
    auto segments = n.names_of(ObjectType::kIndex);
    ASSERT_GE(segments.size(), 2u);
    // Damage every segment: the worst case, nothing of the index is left.
    for (const auto& s : segments) {
      Handle h{ObjectType::kIndex, s};
      Bytes b = n.r.be->load(h, 0, 0);
      switch (fault) {
        case SegmentFault::kFlip: b[b.size() / 2] ^= 4; n.r.be->corrupt(h, b); break;
        case SegmentFault::kTruncate: b.resize(b.size() / 3); n.r.be->corrupt(h, b); break;
        case SegmentFault::kDelete: n.r.be->remove(h); break;
        case SegmentFault::kDuplicate: {
          auto repo = n.reopen();  // the same packs listed again by a second segment
          auto packs = repo::decode_index_segment(repo->keys().encryption, b, s);
          repo->save_index_segment(packs);
          break;
        }
      }
    }
    node::NodeRestoreResult res = n.restore("out");
    EXPECT_TRUE(res.all_ready());
    n.expect_exact(res, "out");

    auto repo = n.reopen();
    repo::IndexRepairResult repaired = repo::repair_index(*repo, {});
    EXPECT_TRUE(repaired.unreadable.empty());
    check::CheckOptions co;
    co.read_data = true;
    auto fresh = n.reopen();
    check::CheckReport report = check::run_check(*fresh, co);
    EXPECT_TRUE(report.ok()) << report.problems.size() << " problems, first: "
                             << (report.problems.empty() ? "" : report.problems[0].message);
  }
}

TEST(NodeFaults, ADamagedOrMissingPackCostsOnlyTheAccountsItHeld) {
  for (bool remove : {false, true}) {
    SCOPED_TRACE(remove ? "pack removed" : "bit flipped");
    FaultNode n;
    const std::string victim = "m5";
    const Id pack = n.pack_of_own(victim);
    // Only a pack no other account's own content is in: find which accounts
    // it costs, so the expectation is exact.
    std::vector<std::string> hit;
    for (const auto& a : n.names)
      if (n.pack_of_own(a) == pack) hit.push_back(a);
    ASSERT_EQ(hit, std::vector<std::string>{victim}) << "the pack must hold one account's content";
    Handle h{ObjectType::kData, pack.hex()};
    if (remove) {
      n.r.be->remove(h);
    } else {
      Bytes b = n.r.be->load(h, 0, 0);
      for (size_t i = 100; i < b.size() - 100; i += 4096) b[i] ^= 1;  // every blob in it
      n.r.be->corrupt(h, b);
    }
    node::NodeRestoreResult res = n.restore("out");
    for (const auto& a : res.accounts) {
      bool lost = std::find(hit.begin(), hit.end(), a.account) != hit.end();
      EXPECT_EQ(a.state == node::AccountState::kFailed, lost) << a.account << ": " << a.error;
    }
    ASSERT_FALSE(hit.empty());
    n.expect_exact(res, "out", hit);  // every other account is exact

    check::CheckOptions co;
    co.read_data = true;
    auto repo = n.reopen();
    check::CheckReport report = check::run_check(*repo, co);
    ASSERT_FALSE(report.ok());
    bool named = false;
    std::vector<std::string> hit_accounts;
    for (const auto& a : hit) hit_accounts.push_back("web1/" + a);
    for (const auto& p : report.problems)
      if (p.object == pack.hex()) {
        named = true;
        EXPECT_FALSE(p.snapshots.empty());
        EXPECT_EQ(p.accounts, hit_accounts);
      }
    EXPECT_TRUE(named) << "check does not name pack " << pack.hex();
    // ... and says what it leaves intact.
    EXPECT_EQ(report.affected_accounts, hit_accounts);
    EXPECT_EQ(report.unaffected_accounts.size(), n.names.size() - hit.size());
    EXPECT_EQ(report.unaffected_snapshots.size(), n.names.size() - hit.size());
  }
}

TEST(NodeFaults, RepairSnapshotsKeepsWhatIsReadableAndMarksTheRest) {
  FaultNode n;
  const Id pack = n.pack_of_own("m5");
  std::vector<std::string> hit;
  for (const auto& a : n.names)
    if (n.pack_of_own(a) == pack) hit.push_back(a);
  ASSERT_EQ(hit, std::vector<std::string>{"m5"});
  n.r.be->remove({ObjectType::kData, pack.hex()});

  auto repo = n.reopen();
  repo::SnapshotRepairOptions o;
  o.forget = true;
  repo::SnapshotRepairResult r = repo::repair_snapshots(*repo, o);
  EXPECT_EQ(r.repaired, hit.size());
  EXPECT_EQ(r.intact, n.names.size() - hit.size());
  for (const auto& s : r.snapshots) {
    const bool lost = std::find(hit.begin(), hit.end(), s.account) != hit.end();
    EXPECT_EQ(s.repaired.has_value(), lost) << s.account;
    if (!lost) continue;
    EXPECT_EQ(s.damaged, std::vector<std::string>{"/own.bin"});
    EXPECT_TRUE(s.forgotten);
    // The repaired snapshot restores: the readable file exactly, the lost
    // one with its size and metadata, zeros where its content was, noted
    // as damaged.
    auto fresh = n.reopen();
    repo::Snapshot fixed = fresh->load_snapshot(*s.repaired);
    EXPECT_TRUE(fixed.partial);
    EXPECT_NE(std::find(fixed.tags.begin(), fixed.tags.end(), "repaired"), fixed.tags.end());
    std::vector<std::string> notes;
    restore::RestoreOptions ro;
    ro.on_error = [&](const std::string& p, const std::string& m) { notes.push_back(p + ": " + m); };
    restore::RestoreResult rr = restore::run_restore(*fresh, fixed.tree, n.dir.sub("fixed-" + s.account), ro);
    EXPECT_EQ(rr.errors, 0u);
    EXPECT_EQ(rr.damaged, 1u);
    std::ifstream a(n.dir.sub("home/" + s.account + "/core.php"), std::ios::binary);
    std::ifstream b(n.dir.sub("fixed-" + s.account + "/core.php"), std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}),
              std::string(std::istreambuf_iterator<char>(b), {}));
    std::ifstream own(n.dir.sub("fixed-" + s.account + "/own.bin"), std::ios::binary);
    std::string zeros(std::istreambuf_iterator<char>(own), {});
    EXPECT_EQ(zeros, std::string(300000, '\0'));
  }
  // The originals of the repaired snapshots are gone, the others untouched.
  EXPECT_EQ(n.reopen()->list_snapshots().size(), n.names.size());
  // A second run finds nothing more to do.
  EXPECT_EQ(repo::repair_snapshots(*n.reopen(), {}).repaired, 0u);
}

}  // namespace
}  // namespace lifeboat
