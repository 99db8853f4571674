// Law 3 when the index is wrong rather than missing: it names a pack that
// is gone, lists a pack with entries its trailer contradicts, or lists a
// pack without all of its blobs. Readers find the blob anyway, reading only
// the trailers they need; `repair index` replaces the misleading segments;
// a backup stores again what a lost pack held.
#include <gtest/gtest.h>

#include <atomic>

#include "backend/mem_backend.h"
#include "support/trailer_counter.h"
#include "base/error.h"
#include "crypto/random.h"
#include "repo/index_repair.h"

namespace lifeboat::repo {
namespace {

using backend::Handle;
using backend::ObjectType;

using test::TrailerCounter;

struct SmallPacks {
  std::shared_ptr<backend::MemBackend> mem = std::make_shared<backend::MemBackend>();
  std::vector<std::pair<Id, Bytes>> blobs;
  SmallPacks() {
    Config cfg = Config::make_new();
    cfg.pack_size = 64 << 10;
    Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {}, cfg);
  }
  std::unique_ptr<Repository> open(std::vector<std::string>* warnings = nullptr,
                                    std::shared_ptr<backend::Backend> be = nullptr) {
    RepositoryOptions o;
    if (warnings) o.warn = [warnings](const std::string& w) { warnings->push_back(w); };
    auto repo = Repository::open(be ? be : mem, "pw", o);
    repo->load_index();
    return repo;
  }
  // Stores n new random blobs; returns the packs written.
  std::vector<std::string> fill(size_t n) {
    auto before = names(ObjectType::kData);
    auto repo = open();
    for (size_t i = 0; i < n; ++i) {
      Bytes b = crypto::random_bytes(20000);
      Id id = repo->hash(b);
      repo->save_blob(BlobType::kData, id, b);
      blobs.emplace_back(id, std::move(b));
    }
    repo->flush();
    return added_since(before);
  }
  // Stores every blob again through a repository that has not loaded the
  // index (another node that raced this one): a second copy of each.
  std::vector<std::string> store_copies() {
    auto before = names(ObjectType::kData);
    auto repo = Repository::open(mem, "pw");
    for (const auto& [id, b] : blobs) EXPECT_TRUE(repo->save_blob(BlobType::kData, id, b));
    repo->flush();
    return added_since(before);
  }
  std::vector<std::string> names(ObjectType type) const {
    std::vector<std::string> out;
    mem->list(type, [&](std::string_view n, uint64_t) { out.emplace_back(n); });
    return out;
  }
  std::vector<std::string> added_since(const std::vector<std::string>& before) const {
    std::vector<std::string> out;
    for (const auto& n : names(ObjectType::kData))
      if (std::find(before.begin(), before.end(), n) == before.end()) out.push_back(n);
    return out;
  }
  // Rewrites every index segment through `edit` (which may change entries
  // or drop them), removing the originals.
  void rewrite_segments(const std::function<void(PackInfo&)>& edit) {
    auto repo = Repository::open(mem, "pw");
    for (const auto& name : names(ObjectType::kIndex)) {
      Bytes sealed = mem->load({ObjectType::kIndex, name}, 0, 0);
      auto packs = decode_index_segment(repo->keys().encryption, sealed, name);
      for (auto& p : packs) edit(p);
      mem->remove({ObjectType::kIndex, name});
      repo->save_index_segment(packs);
    }
  }
  void expect_all_load(Repository& repo) {
    for (const auto& [id, bytes] : blobs) ASSERT_EQ(repo.load_blob(BlobType::kData, id), bytes);
  }
};

TEST(IndexAlternates, ACopyInAnotherPackTakesOverWhenThePackGoes) {
  Index idx;
  PackInfo a, b, c;
  a.id.bytes[0] = 1;
  b.id.bytes[0] = 2;
  c.id.bytes[0] = 3;
  for (uint8_t i = 0; i < 10; ++i) {
    PackEntry e;
    e.id.bytes[5] = i;
    e.offset = i;
    e.stored_length = 20;
    a.entries.push_back(e);
    e.offset = 100 + i;
    if (i % 2 == 0) b.entries.push_back(e);  // copies of the even blobs
  }
  PackEntry only_c;
  only_c.id.bytes[5] = 99;
  c.entries.push_back(only_c);
  idx.add_pack(a);
  idx.add_packs({b, c});  // bulk load: b's copies become alternates
  idx.add_pack(b);        // the same pack again: not an alternate of itself
  EXPECT_EQ(idx.blob_count(), 11u);
  EXPECT_EQ(idx.find(a.entries[2].id)->pack, a.id);
  ASSERT_EQ(idx.find_all(a.entries[2].id).size(), 2u);
  EXPECT_EQ(idx.find_all(a.entries[2].id)[1].pack, b.id);
  EXPECT_EQ(idx.find_all(a.entries[3].id).size(), 1u);

  EXPECT_EQ(idx.remove_packs({a.id}), 5u);  // the odd blobs had no copy
  EXPECT_FALSE(idx.has_pack(a.id));
  EXPECT_EQ(idx.pack_count(), 2u);
  EXPECT_EQ(idx.blob_count(), 6u);
  for (uint8_t i = 0; i < 10; ++i) {
    auto loc = idx.find(a.entries[i].id);
    EXPECT_EQ(loc.has_value(), i % 2 == 0);
    if (loc) {
      EXPECT_EQ(loc->pack, b.id);
      EXPECT_EQ(loc->entry.offset, 100u + i);
    }
  }
  EXPECT_TRUE(idx.find(only_c.id));
}

TEST(StaleIndex, AGonePackIsReadFromACopyListedElsewhere) {
  SmallPacks r;
  auto first = r.fill(60);
  auto copies = r.store_copies();
  ASSERT_GE(first.size(), 10u);
  ASSERT_GE(copies.size(), 10u);
  // The copies the index prefers (segments load in name order, so every
  // process prefers the same ones) are the ones that go.
  {
    auto repo = r.open();
    auto preferred = repo->index().find(r.blobs[0].first)->pack.hex();
    if (std::find(first.begin(), first.end(), preferred) == first.end()) std::swap(first, copies);
  }
  for (const auto& p : first) r.mem->remove({ObjectType::kData, p});
  std::vector<std::string> warnings;
  auto repo = r.open(&warnings);
  for (const auto& [id, bytes] : r.blobs)  // the index points at gone packs ...
    ASSERT_NE(std::find(first.begin(), first.end(), repo->index().find(id)->pack.hex()), first.end());
  r.expect_all_load(*repo);  // ... and every blob loads anyway
  ASSERT_EQ(warnings.size(), 1u);  // said once, saying what was done
  EXPECT_NE(warnings[0].find("other copies"), std::string::npos) << warnings[0];
  // forget_missing_packs points the index at the copies.
  auto again = r.open();
  EXPECT_EQ(again->forget_missing_packs(), first.size());
  for (const auto& [id, bytes] : r.blobs) {
    auto loc = again->index().find(id);
    ASSERT_TRUE(loc);
    EXPECT_NE(std::find(copies.begin(), copies.end(), loc->pack.hex()), copies.end());
  }
}

TEST(StaleIndex, AGonePackIsReadFromAnUnlistedCopy) {
  SmallPacks r;
  auto first = r.fill(60);
  auto first_segments = r.names(ObjectType::kIndex);
  r.store_copies();
  // The copies' segments are lost: only the stale index of the first is left.
  for (const auto& s : r.names(ObjectType::kIndex))
    if (std::find(first_segments.begin(), first_segments.end(), s) == first_segments.end())
      r.mem->remove({ObjectType::kIndex, s});
  for (const auto& p : first) r.mem->remove({ObjectType::kData, p});
  auto repo = r.open();
  r.expect_all_load(*repo);

  // repair index rewrites the stale segment: afterwards the index alone
  // locates every blob, in packs that exist.
  IndexRepairResult rep = repair_index(*Repository::open(r.mem, "pw"), {});
  EXPECT_EQ(rep.packs_gone.size(), first.size());
  EXPECT_EQ(rep.segments_replaced.size(), first_segments.size());
  auto fresh = r.open();
  EXPECT_EQ(fresh->forget_missing_packs(), 0u);
  for (const auto& [id, bytes] : r.blobs) ASSERT_TRUE(fresh->index().contains(id));
}

TEST(StaleIndex, WrongEntriesAreCorrectedFromThatPacksTrailerAlone) {
  SmallPacks r;
  auto packs = r.fill(60);
  // Every entry of every listed pack points 16 bytes off.
  r.rewrite_segments([](PackInfo& p) {
    for (auto& e : p.entries) e.offset += 16;
  });
  auto counting = std::make_shared<TrailerCounter>(r.mem);
  auto repo = r.open(nullptr, counting);
  // One blob: one trailer read (its pack's), not a sweep of every pack.
  ASSERT_EQ(repo->load_blob(BlobType::kData, r.blobs[0].first), r.blobs[0].second);
  EXPECT_EQ(counting->trailer_reads.load(), 1);
  r.expect_all_load(*repo);
  EXPECT_EQ(counting->trailer_reads.load(), static_cast<int>(packs.size()));

  // --full sees the contradiction and replaces every segment.
  IndexRepairOptions full;
  full.full = true;
  IndexRepairResult rep = repair_index(*Repository::open(r.mem, "pw"), full);
  EXPECT_EQ(rep.packs_mismatched.size(), packs.size());
  EXPECT_FALSE(rep.segments_replaced.empty());
  auto fresh_count = std::make_shared<TrailerCounter>(r.mem);
  auto fresh = r.open(nullptr, fresh_count);
  r.expect_all_load(*fresh);
  EXPECT_EQ(fresh_count->trailer_reads.load(), 0);  // the index is right again
}

TEST(StaleIndex, BlobsALiveSegmentOmitsAreFoundInTheTrailers) {
  SmallPacks r;
  r.fill(60);
  // Every other entry dropped from the index: its packs stay listed.
  r.rewrite_segments([](PackInfo& p) {
    std::vector<PackEntry> kept;
    for (size_t i = 0; i < p.entries.size(); i += 2) kept.push_back(p.entries[i]);
    p.entries = kept;
  });
  std::vector<std::string> warnings;
  auto repo = r.open(&warnings);
  r.expect_all_load(*repo);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("repair index --full"), std::string::npos) << warnings.back();
  IndexRepairOptions full;
  full.full = true;
  repair_index(*Repository::open(r.mem, "pw"), full);
  auto fresh = r.open();
  for (const auto& [id, bytes] : r.blobs) EXPECT_TRUE(fresh->index().contains(id));
}

TEST(StaleIndex, ABackupAfterAPackIsLostStoresItsBlobsAgain) {
  SmallPacks r;
  auto packs = r.fill(30);
  r.mem->remove({ObjectType::kData, packs[0]});
  {
    // Without forgetting the gone pack, the index vouches for blobs that
    // are nowhere: a new snapshot would name them.
    auto repo = r.open();
    size_t stored = 0;
    for (const auto& [id, b] : r.blobs) stored += repo->save_blob(BlobType::kData, id, b);
    EXPECT_EQ(stored, 0u);
  }
  auto repo = r.open();
  EXPECT_EQ(repo->forget_missing_packs(), 1u);
  size_t stored = 0;
  for (const auto& [id, b] : r.blobs) stored += repo->save_blob(BlobType::kData, id, b);
  repo->flush();
  EXPECT_GT(stored, 0u);
  r.expect_all_load(*r.open());
}

TEST(RepairIndex, RemovesUnreadableSegmentsOnceTheirPacksAreIndexed) {
  SmallPacks r;
  r.fill(200);
  auto segments = r.names(ObjectType::kIndex);
  ASSERT_GE(segments.size(), 2u);
  Bytes bad = r.mem->load({ObjectType::kIndex, segments[0]}, 0, 0);
  bad[bad.size() / 2] ^= 1;
  r.mem->corrupt({ObjectType::kIndex, segments[0]}, bad);
  IndexRepairResult rep = repair_index(*Repository::open(r.mem, "pw"), {});
  EXPECT_EQ(rep.segments_skipped, std::vector<std::string>{segments[0]});
  EXPECT_EQ(rep.segments_replaced, std::vector<std::string>{segments[0]});
  auto after = r.names(ObjectType::kIndex);
  EXPECT_EQ(std::find(after.begin(), after.end(), segments[0]), after.end());
  auto fresh = Repository::open(r.mem, "pw");
  EXPECT_TRUE(fresh->load_index().empty());
  for (const auto& [id, bytes] : r.blobs) EXPECT_TRUE(fresh->index().contains(id));
}

}  // namespace
}  // namespace lifeboat::repo

namespace lifeboat::repo {
namespace {

// Two nodes backing up into one repository at once: what one stored, the
// other picks up with refresh_index and does not store again.
TEST(RefreshIndex, PicksUpWhatAnotherWriterStoredMeanwhile) {
  SmallPacks r;
  auto mine = r.open();     // loaded before the other writer stored anything
  auto theirs = r.open();
  Bytes b = crypto::random_bytes(30000);
  const Id id = theirs->hash(b);
  ASSERT_TRUE(theirs->save_blob(BlobType::kData, id, b));
  theirs->flush();
  EXPECT_FALSE(mine->index().contains(id));
  EXPECT_EQ(mine->refresh_index(), 1u);
  EXPECT_TRUE(mine->index().contains(id));
  EXPECT_FALSE(mine->save_blob(BlobType::kData, id, b));  // not stored twice
  EXPECT_EQ(mine->refresh_index(), 0u);                   // each segment read once
  // Its own segments are not read back.
  Bytes c = crypto::random_bytes(30000);
  mine->save_blob(BlobType::kData, mine->hash(c), c);
  mine->flush();
  EXPECT_EQ(mine->refresh_index(), 0u);
}

}  // namespace
}  // namespace lifeboat::repo
