// prune's safety rules on an in-memory repository: what it deletes, what it
// keeps back, and how it waits for writers (docs/ARCHITECTURE.md "Prune:
// deleting while others write").
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "base/error.h"
#include "prune/prune_lock.h"
#include "prune/pruner.h"
#include "repo/lock_records.h"
#include "repo/writer_registration.h"
#include "support/mem_repo.h"
#include "support/trailer_counter.h"

namespace lifeboat {
namespace {

using backend::ObjectType;
using repo::BlobType;

Bytes blob_bytes(int seed, size_t size = 4096) {
  Bytes b(size);
  uint32_t x = 2654435761u * static_cast<uint32_t>(seed + 1);
  for (auto& c : b) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

struct Fixture : ::testing::Test {
  test::MemRepo mem;
  repo::Repository& repo = *mem.repo;

  // Saves the blobs (unless stored), a tree naming them as one file, and
  // flushes; returns the tree id.
  Id save_tree_of(const std::vector<int>& seeds) {
    repo::Node file;
    file.name = "f";
    file.type = repo::NodeType::kFile;
    for (int s : seeds) {
      Bytes b = blob_bytes(s);
      Id id = repo.hash(b);
      repo.save_blob(BlobType::kData, id, b);
      file.content.push_back({id, b.size()});
      file.size += b.size();
    }
    repo::Tree t;
    t.nodes.push_back(file);
    Id tree = repo.save_tree(t);
    repo.flush();
    return tree;
  }

  Id snapshot(Id tree) {
    repo::Snapshot s;
    s.time = now_unix_nanos();
    s.node = "n";
    s.account = "a";
    s.tree = tree;
    return repo.save_snapshot(s);
  }

  Id backup(const std::vector<int>& seeds) { return snapshot(save_tree_of(seeds)); }

  void forget(const Id& snap) { mem.be->remove({ObjectType::kSnapshot, snap.hex()}); }

  size_t packs() {
    size_t n = 0;
    mem.be->list(ObjectType::kData, [&](std::string_view, uint64_t) { ++n; });
    return n;
  }

  bool readable(int seed) {
    Bytes b = blob_bytes(seed);
    try {
      return repo::Repository::open(mem.be, "pw")->load_blob(BlobType::kData, repo.hash(b)) == b;
    } catch (const Error&) {
      return false;
    }
  }

  prune::PruneReport prune(prune::PruneOptions o = {}) {
    // A fresh Repository, as a separate prune process would have.
    auto other = repo::Repository::open(mem.be, "pw");
    return prune::prune(*other, o);
  }
};

TEST_F(Fixture, UnusedPacksGoAndUsedOnesStay) {
  Id a = backup({1, 2, 3});
  backup({4, 5});
  forget(a);
  ASSERT_EQ(packs(), 2u);
  auto r = prune();
  EXPECT_EQ(r.packs_deleted, 1u);
  EXPECT_EQ(r.plans_done, 1u);
  EXPECT_EQ(packs(), 1u);
  EXPECT_FALSE(readable(1));
  EXPECT_TRUE(readable(4));
  EXPECT_TRUE(readable(5));
  // Nothing left under locks/: the plan is carried out and the lock gone.
  size_t records = 0;
  mem.be->list(ObjectType::kLock, [&](std::string_view, uint64_t) { ++records; });
  EXPECT_EQ(records, 0u);
  EXPECT_EQ(prune().packs_deleted, 0u);
}

TEST_F(Fixture, DryRunChangesNothing) {
  Id a = backup({1});
  backup({2});
  forget(a);
  prune::PruneOptions o;
  o.dry_run = true;
  auto r = prune(o);
  EXPECT_EQ(r.packs_deleted, 1u);
  EXPECT_EQ(packs(), 2u);
  EXPECT_TRUE(readable(1));
  size_t records = 0;
  mem.be->list(ObjectType::kLock, [&](std::string_view, uint64_t) { ++records; });
  EXPECT_EQ(records, 0u);
}

// The race two-phase deletion exists for: a writer that started before the
// plan deduplicates against a blob only an unused pack holds, then saves a
// snapshot naming it. Prune must wait for it, then keep that pack.
TEST_F(Fixture, APlanWaitsForAWriterThatDidNotKnowItAndKeepsWhatItsSnapshotNeeds) {
  Id a = backup({1, 2});
  backup({9});
  forget(a);
  auto writer = std::make_unique<repo::WriterRegistration>(repo, "backup n/a");
  Id tree = save_tree_of({1});  // deduplicated: blob 1 is "already stored"
  // 1, 2 and a tree; 9 and a tree; the new tree: 6, so blob 1 was not stored again.
  EXPECT_EQ(repo.stats().blobs_added, 6u);

  auto first = prune();
  EXPECT_EQ(first.packs_deleted, 0u);
  EXPECT_EQ(first.plans_waiting, 1u);
  ASSERT_EQ(first.waiting_for.size(), 1u);
  EXPECT_NE(first.waiting_for[0].find("backup n/a"), std::string::npos);

  snapshot(tree);
  writer.reset();
  auto second = prune();
  EXPECT_EQ(second.plans_done, 1u);
  EXPECT_GE(second.packs_kept_back, 1u);
  EXPECT_TRUE(readable(1)) << "the pack the writer's snapshot needs was deleted";
  EXPECT_TRUE(readable(9));
  // A third prune finds blob 2 unused and the pack mostly unused.
  prune();
  EXPECT_TRUE(readable(1));
}

// A writer that starts after a plan exists stores again what only the
// plan's packs hold, so the plan can go ahead while it runs.
TEST_F(Fixture, AWriterThatKnowsThePlanStoresItsBlobsAgain) {
  Id a = backup({1});
  backup({9});
  forget(a);
  auto early = std::make_unique<repo::WriterRegistration>(repo, "early");
  auto r1 = prune();
  EXPECT_EQ(r1.plans_waiting, 1u);

  auto other = repo::Repository::open(mem.be, "pw");
  repo::WriterRegistration late(*other, "late");
  other->load_index();
  EXPECT_EQ(late.plans_excluded(), 1u);
  Bytes b = blob_bytes(1);
  EXPECT_FALSE(other->can_reference(other->hash(b)));
  EXPECT_TRUE(other->save_blob(BlobType::kData, other->hash(b), b)) << "deduplicated against a doomed pack";
  other->flush();
  early.reset();

  auto r2 = prune();
  EXPECT_EQ(r2.plans_done, 1u);
  EXPECT_EQ(r2.packs_kept_back, 0u);
  EXPECT_TRUE(readable(1));  // the late writer's copy
}

TEST_F(Fixture, MarkersOfDeadOrSilentWritersDoNotBlock) {
  Id a = backup({1});
  backup({9});
  forget(a);
  // A writer on this host whose process has exited.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  repo::LockRecord dead;
  dead.kind = repo::LockKind::kWriter;
  dead.run = repo::new_run_id();
  dead.seq = 1;
  dead.time = dead.started = now_unix_nanos();
  repo::fill_process_identity(dead);
  dead.pid = child;
  mem.be->save({ObjectType::kLock, dead.name()}, repo::encode_lock_record(repo.keys().encryption, dead));
  // A writer on another host, silent for longer than the stale limit.
  repo::LockRecord silent = dead;
  silent.run = repo::new_run_id();
  silent.host = "elsewhere";
  silent.pid = 1;
  silent.time = now_unix_nanos() - 2 * repo::kMarkerStaleAfter;
  mem.be->save({ObjectType::kLock, silent.name()}, repo::encode_lock_record(repo.keys().encryption, silent));

  auto r = prune();
  EXPECT_EQ(r.packs_deleted, 1u);
  EXPECT_EQ(r.records_removed, 2u);
  EXPECT_FALSE(readable(1));

  // The same silent writer renewed a minute ago blocks.
  Id b = backup({2});
  backup({8});
  forget(b);
  silent.seq = 2;
  silent.time = now_unix_nanos() - 60 * repo::kSecond;
  mem.be->save({ObjectType::kLock, silent.name()}, repo::encode_lock_record(repo.keys().encryption, silent));
  auto blocked = prune();
  EXPECT_EQ(blocked.packs_deleted, 0u);
  EXPECT_EQ(blocked.plans_waiting, 1u);
  EXPECT_TRUE(readable(2));
}

TEST_F(Fixture, AWriterWhoseMarkerWentUnrenewedSavesNoSnapshot) {
  repo::WriterRegistrationOptions o;
  o.renew_every_ns = 3600 * repo::kSecond;
  o.commit_within_ns = 50'000'000;  // 50 ms
  repo::WriterRegistration writer(repo, "slow", o);
  Id tree = save_tree_of({1});
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  try {
    snapshot(tree);
    FAIL() << "saved a snapshot after the marker went stale";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(e.message().find("run the backup again"), std::string::npos);
  }
  size_t snaps = 0;
  mem.be->list(ObjectType::kSnapshot, [&](std::string_view, uint64_t) { ++snaps; });
  EXPECT_EQ(snaps, 0u);
}

TEST_F(Fixture, MostlyUnusedPacksAreRepacked) {
  // One pack: 2 blobs used by `keep`, 8 only by `drop`.
  std::vector<int> all = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  Id drop = backup(all);
  Id keep_tree = save_tree_of({1, 2});
  snapshot(keep_tree);
  forget(drop);
  prune::PruneOptions o;
  o.repack_small = 0;
  auto r = prune(o);
  EXPECT_GE(r.packs_repacked, 1u);
  EXPECT_EQ(r.blobs_repacked, 2u);
  EXPECT_GE(r.packs_deleted, 1u);
  EXPECT_TRUE(readable(1));
  EXPECT_TRUE(readable(2));
  EXPECT_FALSE(readable(5));
}

// Ten packs each 30% unused: under the per-pack threshold (50%), so only
// --max-unused repacks them, the most unused first, until at most 5% of
// what stays is unused.
TEST_F(Fixture, MaxUnusedRepacksUntilTheGoalIsMet) {
  std::vector<Id> drops;
  std::vector<int> kept;
  for (int p = 0; p < 10; ++p) {
    std::vector<int> seeds;
    for (int k = 0; k < 10; ++k) seeds.push_back(10 * p + k);
    drops.push_back(backup(seeds));
    kept.insert(kept.end(), seeds.begin(), seeds.begin() + 7);
  }
  snapshot(save_tree_of(kept));
  for (const Id& d : drops) forget(d);

  prune::PruneOptions off;
  off.repack_small = 0;
  off.max_unused = 1;
  off.dry_run = true;
  auto before = prune(off);
  EXPECT_EQ(before.packs_repacked, 0u);
  EXPECT_GE(before.bytes_unused_after, 30u * 4096 * 9 / 10);

  prune::PruneOptions o;
  o.repack_small = 0;
  ASSERT_EQ(o.max_unused, 0.05);  // the default
  auto r = prune(o);
  // 1 pack left 30% unused: 3 of 73 blobs unused (4%); 2 would be 6 of 76.
  EXPECT_EQ(r.packs_repacked, 9u);
  EXPECT_EQ(r.blobs_repacked, 63u);
  EXPECT_LE(r.bytes_unused_after, 4u * 4096);
  EXPECT_GT(r.bytes_unused_after, 0u);
  // Every kept blob is there; of the dropped ones only the 3 in the pack
  // that stays.
  int dropped_left = 0;
  for (int p = 0; p < 10; ++p)
    for (int k = 0; k < 10; ++k) {
      if (k < 7)
        EXPECT_TRUE(readable(10 * p + k)) << p << k;
      else
        dropped_left += readable(10 * p + k);
    }
  EXPECT_EQ(dropped_left, 3);
}

TEST_F(Fixture, AnotherRunningPruneIsRefused) {
  repo::LockRecord other;
  other.kind = repo::LockKind::kPrune;
  other.run = repo::new_run_id();
  other.seq = 1;
  other.time = other.started = now_unix_nanos();
  repo::fill_process_identity(other);  // this very process: alive
  mem.be->save({ObjectType::kLock, other.name()}, repo::encode_lock_record(repo.keys().encryption, other));
  try {
    prune();
    FAIL() << "two prunes ran at once";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
  }
}

TEST(PruneWalk, TreesOfOnePackAreReadTogether) {
  auto mem = std::make_shared<backend::MemBackend>();
  auto be = std::make_shared<test::TrailerCounter>(mem);
  repo::Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {});
  auto repo = repo::Repository::open(be, "pw");
  // 300 directories, each its own tree, all in one pack.
  repo::Tree top;
  for (int d = 0; d < 300; ++d) {
    repo::Tree dir;
    repo::Node file;
    file.name = "f";
    Bytes b = blob_bytes(d, 64);
    Id id = repo->hash(b);
    repo->save_blob(BlobType::kData, id, b);
    file.content.push_back({id, b.size()});
    dir.nodes.push_back(file);
    repo::Node sub;
    char name[16];
    std::snprintf(name, sizeof name, "d%03d", d);
    sub.name = name;
    sub.type = repo::NodeType::kDir;
    sub.subtree = repo->save_tree(dir);
    top.nodes.push_back(sub);
  }
  repo::Snapshot s;
  s.tree = repo->save_tree(top);
  repo->flush();
  s.time = now_unix_nanos();
  repo->save_snapshot(s);
  be->pack_reads = 0;
  auto pruner = repo::Repository::open(be, "pw");
  auto r = prune::prune(*pruner, {});
  EXPECT_EQ(r.blobs_used, 601u);
  EXPECT_LE(be->pack_reads.load(), 6) << "one read per tree instead of one per pack region";
}

TEST_F(Fixture, RepairIndexAndPruneExcludeEachOther) {
  {
    prune::PruneLock repairing(repo, "repair index");
    try {
      prune();
      FAIL() << "prune ran during repair index";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
      EXPECT_NE(e.message().find("repair index"), std::string::npos);
    }
  }
  // Released: prune runs, and leaves no record behind.
  EXPECT_NO_THROW(prune());
  size_t records = 0;
  mem.be->list(ObjectType::kLock, [&](std::string_view, uint64_t) { ++records; });
  EXPECT_EQ(records, 0u);
}

TEST_F(Fixture, AnUnreadableSnapshotStopsThePruneBeforeItDeletesAnything) {
  Id a = backup({1});
  Id b = backup({2});
  forget(a);
  Bytes sealed = mem.be->load(backend::Handle{ObjectType::kSnapshot, b.hex()}, 0, 0);
  sealed[sealed.size() / 2] ^= 1;
  mem.be->remove({ObjectType::kSnapshot, b.hex()});
  mem.be->save({ObjectType::kSnapshot, b.hex()}, sealed);
  EXPECT_THROW(prune(), Error);
  EXPECT_EQ(packs(), 2u);
  EXPECT_TRUE(readable(1));
}

}  // namespace
}  // namespace lifeboat
