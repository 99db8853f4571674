// The fault matrix beyond index segments (issue 4, point 6): bit flips,
// truncation, deletion and duplication of packs, snapshots, trees, key
// files and the config. For each: check names the damaged object and what
// it affects, every account it does not affect restores exactly, and the
// repair gets back what can be got back.
#include <gtest/gtest.h>

#include "check/checker.h"
#include "fault/fault_node.h"
#include "repo/snapshot_repair.h"
#include "restore/restorer.h"

namespace lifeboat {
namespace {

using backend::Handle;
using backend::ObjectType;
using test::FaultNode;

enum class Fault { kFlip, kTruncate, kDelete, kDuplicate };
const char* name_of(Fault f) {
  switch (f) {
    case Fault::kFlip: return "bit flip";
    case Fault::kTruncate: return "truncation";
    case Fault::kDelete: return "deletion";
    case Fault::kDuplicate: return "duplication";
  }
  return "?";
}

// Applies `fault` to one object. Duplication writes a copy under a name
// that does not match its content (the only copy an object named by its
// hash can have).
void inject(backend::MemBackend& be, const Handle& h, Fault fault) {
  Bytes b = be.load(h, 0, 0);
  switch (fault) {
    case Fault::kFlip: b[b.size() / 2] ^= 0x10; be.corrupt(h, b); break;
    case Fault::kTruncate: b.resize(b.size() * 2 / 3); be.corrupt(h, b); break;
    case Fault::kDelete: be.remove(h); break;
    case Fault::kDuplicate: {
      std::string other = h.name;
      other[0] = other[0] == 'f' ? '0' : 'f';
      be.save({h.type, other}, b);
      break;
    }
  }
}

check::CheckReport check_of(FaultNode& n, bool read_data = false) {
  check::CheckOptions o;
  o.read_data = read_data;
  auto repo = n.reopen();
  return check::run_check(*repo, o);
}

Id snapshot_of(FaultNode& n, const std::string& account) {
  for (const auto& [id, s] : n.reopen()->list_snapshots())
    if (s.account == account) return id;
  ADD_FAILURE() << "no snapshot of " << account;
  return {};
}

bool names(const check::CheckReport& r, const std::string& kind, const std::string& object) {
  for (const auto& p : r.problems)
    if (p.kind == kind && p.object == object) return true;
  return false;
}

TEST(ObjectFaults, Snapshots) {
  for (Fault fault : {Fault::kFlip, Fault::kTruncate, Fault::kDelete, Fault::kDuplicate}) {
    SCOPED_TRACE(name_of(fault));
    FaultNode n;
    const Id victim = snapshot_of(n, "m5");
    inject(*n.r.be, {ObjectType::kSnapshot, victim.hex()}, fault);
    node::NodeRestoreResult res = n.restore("out");
    const bool lost = fault != Fault::kDuplicate;
    // Every other account restores exactly; the victim too when only a copy was added.
    EXPECT_EQ(res.accounts.size(), n.names.size() - (lost ? 1 : 0));
    n.expect_exact(res, "out");
    check::CheckReport r = check_of(n);
    switch (fault) {
      case Fault::kFlip:
      case Fault::kTruncate:
        EXPECT_TRUE(names(r, "snapshot", victim.hex()));
        EXPECT_EQ(r.problems.size(), 1u);
        break;
      case Fault::kDuplicate: {
        std::string copy = victim.hex();
        copy[0] = copy[0] == 'f' ? '0' : 'f';
        EXPECT_TRUE(names(r, "snapshot", copy));  // the copy, not the original
        EXPECT_FALSE(names(r, "snapshot", victim.hex()));
        break;
      }
      case Fault::kDelete:
        // Indistinguishable from 'forget' by design; append-only storage
        // (issue 5) is what keeps a snapshot from being deleted.
        EXPECT_TRUE(r.ok());
        break;
    }
    if (!lost) continue;
    // The account's trees are all still there: repair orphans brings them
    // back as a directory of a 'recovered' snapshot.
    repo::OrphanRecovery rec = repo::recover_orphans(*n.reopen());
    ASSERT_EQ(rec.roots.size(), 1u);
    ASSERT_TRUE(rec.snapshot);
    auto repo = n.reopen();
    repo::Snapshot snap = repo->load_snapshot(*rec.snapshot);
    EXPECT_EQ(snap.account, "recovered");
    restore::RestoreResult rr = restore::run_restore(*repo, snap.tree, n.dir.sub("recovered"), {});
    EXPECT_EQ(rr.errors, 0u);
    auto diffs = test::compare_trees(n.dir.sub("home/m5"),
                                     n.dir.sub("recovered/" + rec.roots[0].short_hex()));
    EXPECT_TRUE(diffs.empty()) << diffs[0];
    EXPECT_FALSE(repo::recover_orphans(*n.reopen()).snapshot);  // nothing left to recover
  }
}

TEST(ObjectFaults, TreesCostOnlyTheAccountsThatHoldThem) {
  FaultNode n;
  const Id victim = snapshot_of(n, "m5");
  repo::BlobLocation loc;
  {
    auto repo = n.reopen();
    loc = *repo->index().find(repo->load_snapshot(victim).tree);
  }
  // One bit of the root tree of m5's snapshot, inside its stored bytes.
  Handle h{ObjectType::kData, loc.pack.hex()};
  Bytes b = n.r.be->load(h, 0, 0);
  b[loc.entry.offset + loc.entry.stored_length / 2] ^= 1;
  n.r.be->corrupt(h, b);

  node::NodeRestoreResult res = n.restore("out");
  for (const auto& a : res.accounts)
    EXPECT_EQ(a.state == node::AccountState::kFailed, a.account == "m5") << a.account;
  n.expect_exact(res, "out", {"m5"});

  check::CheckReport r = check_of(n);
  EXPECT_TRUE(names(r, "tree", loc.entry.id.hex()));
  EXPECT_EQ(r.affected_accounts, std::vector<std::string>{"web1/m5"});
  EXPECT_EQ(r.unaffected_accounts.size(), n.names.size() - 1);
  ASSERT_EQ(r.affected_snapshots.size(), 1u);
  EXPECT_EQ(r.affected_snapshots[0].snapshot, victim.hex());
  EXPECT_EQ(r.affected_snapshots[0].damaged_dirs, 1u);  // the root: everything in it

  // The salvage: a snapshot that says what is lost (here, all of it).
  repo::SnapshotRepairResult rep = repo::repair_snapshots(*n.reopen(), {});
  EXPECT_EQ(rep.repaired, 1u);
  EXPECT_EQ(rep.intact, n.names.size() - 1);
}

TEST(ObjectFaults, PacksTruncatedOrDuplicated) {
  for (Fault fault : {Fault::kTruncate, Fault::kDuplicate}) {
    SCOPED_TRACE(name_of(fault));
    FaultNode n;
    const Id pack = n.pack_of_own("m5");
    inject(*n.r.be, {ObjectType::kData, pack.hex()}, fault);
    node::NodeRestoreResult res = n.restore("out");
    const bool lost = fault == Fault::kTruncate;
    for (const auto& a : res.accounts)
      EXPECT_EQ(a.state == node::AccountState::kFailed, lost && a.account == "m5") << a.account;
    n.expect_exact(res, "out", lost ? std::vector<std::string>{"m5"} : std::vector<std::string>{});
    check::CheckReport r = check_of(n, true);
    if (lost) {
      EXPECT_TRUE(names(r, "pack", pack.hex()));
      EXPECT_EQ(r.affected_accounts, std::vector<std::string>{"web1/m5"});
    } else {
      // The copy is unreferenced and misnamed; nothing is affected.
      std::string copy = pack.hex();
      copy[0] = copy[0] == 'f' ? '0' : 'f';
      EXPECT_TRUE(names(r, "pack", copy)) << r.problems.size();
      EXPECT_TRUE(r.affected_accounts.empty());
    }
  }
}

TEST(ObjectFaults, KeyFiles) {
  for (Fault fault : {Fault::kFlip, Fault::kTruncate, Fault::kDelete, Fault::kDuplicate}) {
    SCOPED_TRACE(name_of(fault));
    FaultNode n;
    n.reopen()->add_key("pw", crypto::KdfParams::for_tests(), {});  // a second key, same password
    auto keys = n.names_of(ObjectType::kKey);
    ASSERT_EQ(keys.size(), 2u);
    inject(*n.r.be, {ObjectType::kKey, keys[0]}, fault);
    // The other key opens it: every account restores.
    node::NodeRestoreResult res = n.restore("out");
    EXPECT_EQ(res.accounts.size(), n.names.size());
    n.expect_exact(res, "out");
    check::CheckReport r = check_of(n);
    if (fault == Fault::kDelete) {
      EXPECT_TRUE(r.ok());
    } else {
      std::string named = keys[0];
      if (fault == Fault::kDuplicate) named[0] = named[0] == 'f' ? '0' : 'f';
      EXPECT_TRUE(names(r, "key", named));
      EXPECT_TRUE(r.affected_accounts.empty());
    }
  }
}

TEST(ObjectFaults, ADamagedConfigStopsBackupsNotRestores) {
  for (Fault fault : {Fault::kFlip, Fault::kTruncate}) {
    SCOPED_TRACE(name_of(fault));
    FaultNode n;
    inject(*n.r.be, {ObjectType::kConfig, "config"}, fault);
    std::vector<std::string> warnings;
    repo::RepositoryOptions o;
    o.warn = [&](const std::string& w) { warnings.push_back(w); };
    auto repo = repo::Repository::open(n.r.be, "pw", o);
    EXPECT_TRUE(repo->config_damaged());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("repair config"), std::string::npos) << warnings[0];
    EXPECT_THROW(repo->require_intact_config(), Error);
    node::NodeRestoreResult res = n.restore("out");
    n.expect_exact(res, "out");
    EXPECT_EQ(res.accounts.size(), n.names.size());
    EXPECT_TRUE(names(check_of(n), "config", "config"));
    // repair config: a new config, and the repository is whole again.
    repo->replace_config(repo::Config::make_new());
    auto fresh = n.reopen();
    EXPECT_FALSE(fresh->config_damaged());
    EXPECT_NO_THROW(fresh->require_intact_config());
    EXPECT_TRUE(check_of(n, true).ok());
  }
  // Deleted: not a repository, until repair config (which needs a key).
  FaultNode n;
  n.r.be->remove({ObjectType::kConfig, "config"});
  EXPECT_THROW(repo::Repository::open(n.r.be, "pw"), Error);
  repo::RepositoryOptions o;
  o.allow_missing_config = true;
  repo::Repository::open(n.r.be, "pw", o)->replace_config(repo::Config::make_new());
  n.expect_exact(n.restore("out"), "out");
}

}  // namespace
}  // namespace lifeboat

namespace lifeboat {
namespace {

// The empty directory tree is one blob shared by every empty directory. If
// its pack is lost, `repair snapshots` replaces the lost directories by...
// the empty tree: it must store it again, not trust the stale index entry
// (which would leave the repaired snapshot as damaged as the original).
TEST(ObjectFaults, RepairStoresAgainWhatALostPackHeld) {
  test::TempDir dir;
  test::SmallPackRepo r;
  const std::string home = dir.sub("home");
  ::mkdir(home.c_str(), 0755);
  ::mkdir((home + "/e1").c_str(), 0755);
  ::mkdir((home + "/e1/empty").c_str(), 0755);
  test::write_file(home + "/e1/file.txt", test::seeded_bytes(5000, 3));
  node::NodeBackupOptions o;
  o.root = home;
  o.node = "web1";
  o.accounts = {"e1"};
  ASSERT_TRUE(node::run_node_backup(*r.repo, o).all_ok());

  auto repo = repo::Repository::open(r.be, "pw");
  repo->load_index();
  const Id empty_tree = repo->hash(repo::encode_tree(repo::Tree{}));
  auto loc = repo->index().find(empty_tree);
  ASSERT_TRUE(loc) << "the empty directory's tree is stored";
  r.be->remove({ObjectType::kData, loc->pack.hex()});

  repo::SnapshotRepairOptions ro;
  ro.forget = true;
  auto fresh = repo::Repository::open(r.be, "pw");
  fresh->load_index();
  repo::SnapshotRepairResult rep = repo::repair_snapshots(*fresh, ro);
  ASSERT_EQ(rep.repaired, 1u);
  auto after = repo::Repository::open(r.be, "pw");
  after->load_index();
  check::CheckReport report = check::run_check(*after, {});
  EXPECT_TRUE(report.affected_snapshots.empty())
      << "the repaired snapshot names a blob that is gone: " << report.problems[0].message;
  EXPECT_NO_THROW(after->load_tree(empty_tree));
}

}  // namespace
}  // namespace lifeboat
