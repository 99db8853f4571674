// Law 3: the packs are the truth, the index a cache. A repository whose
// index is partly or wholly gone still serves every blob (from the packs'
// trailers), and `repair index` writes the index back, resumably.
#include "repo/index_repair.h"

#include <gtest/gtest.h>

#include "backend/fault_backend.h"
#include "backend/mem_backend.h"
#include "base/error.h"
#include "crypto/random.h"

namespace lifeboat::repo {
namespace {

using backend::ObjectType;

// A repository with `packs` packs of small-pack size holding `blobs` blobs.
struct Filled {
  std::shared_ptr<backend::MemBackend> mem = std::make_shared<backend::MemBackend>();
  std::vector<std::pair<Id, Bytes>> blobs;
  explicit Filled(size_t n) {
    Config cfg = Config::make_new();
    cfg.pack_size = 64 << 10;  // many small packs
    Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {}, cfg);
    auto repo = Repository::open(mem, "pw");
    for (size_t i = 0; i < n; ++i) {
      Bytes b = crypto::random_bytes(20000);
      Id id = repo->hash(b);
      repo->save_blob(BlobType::kData, id, b);
      blobs.emplace_back(id, std::move(b));
    }
    repo->flush();
  }
  std::vector<std::string> names(ObjectType type) const {
    std::vector<std::string> out;
    mem->list(type, [&](std::string_view n, uint64_t) { out.emplace_back(n); });
    return out;
  }
  void remove_all(ObjectType type) {
    for (const auto& n : names(type)) mem->remove({type, n});
  }
};

TEST(IndexIsACache, EveryBlobLoadsWithTheIndexGoneAndTheRepairIsWarnedAbout) {
  Filled f(200);
  ASSERT_GT(f.names(ObjectType::kData).size(), 20u);
  f.remove_all(ObjectType::kIndex);
  std::vector<std::string> warnings;
  RepositoryOptions o;
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto repo = Repository::open(f.mem, "pw", o);
  repo->load_index();
  EXPECT_EQ(repo->index().blob_count(), 0u);
  for (const auto& [id, bytes] : f.blobs) ASSERT_EQ(repo->load_blob(BlobType::kData, id), bytes);
  ASSERT_EQ(warnings.size(), 1u);  // one pass, one warning that says what was done
  EXPECT_NE(warnings[0].find("repair index"), std::string::npos) << warnings[0];
  EXPECT_FALSE(repo->locate(repo->hash(crypto::random_bytes(10))));  // truly missing: not found
  EXPECT_EQ(repo->recovered_packs().size(), f.names(ObjectType::kData).size());
}

TEST(IndexIsACache, DamagedSegmentsAreSkippedAndTheirPacksReadFromTrailers) {
  Filled f(200);
  auto segments = f.names(ObjectType::kIndex);
  ASSERT_GE(segments.size(), 1u);
  Bytes bad = f.mem->load({ObjectType::kIndex, segments[0]}, 0, 0);
  bad[bad.size() / 2] ^= 1;
  f.mem->corrupt({ObjectType::kIndex, segments[0]}, bad);
  auto repo = Repository::open(f.mem, "pw");
  EXPECT_EQ(repo->load_index().size(), 1u);
  for (const auto& [id, bytes] : f.blobs) ASSERT_EQ(repo->load_blob(BlobType::kData, id), bytes);
}

TEST(RepairIndex, RebuildsOnlyWhatIsMissingAndResumesAfterAFailure) {
  Filled f(450);
  const size_t packs = f.names(ObjectType::kData).size();
  ASSERT_GT(packs, 130u) << "needs more than two segments' worth of packs";
  f.remove_all(ObjectType::kIndex);

  // The second segment write fails: the first one (64 packs) is durable.
  auto fault = std::make_shared<backend::FaultBackend>(f.mem);
  {
    auto repo = Repository::open(fault, "pw");
    fault->fail_save_at(fault->saves() + 2, false);
    uint64_t last_done = 0, last_total = 0;
    IndexRepairOptions o;
    o.on_progress = [&](uint64_t d, uint64_t t) {
      last_done = d;
      last_total = t;
    };
    EXPECT_THROW(repair_index(*repo, o), Error);
    EXPECT_EQ(last_total, packs);
  }
  EXPECT_EQ(f.names(ObjectType::kIndex).size(), 1u);

  // The next run reads only the packs the first one did not index.
  auto repo = Repository::open(f.mem, "pw");
  IndexRepairResult r = repair_index(*repo, {});
  EXPECT_EQ(r.packs, packs);
  EXPECT_EQ(r.packs_listed, 64u);
  EXPECT_EQ(r.packs_read, packs - 64);
  EXPECT_TRUE(r.unreadable.empty());
  // Now the index alone knows every blob: no trailer is needed.
  auto fresh = Repository::open(f.mem, "pw");
  fresh->load_index();
  for (const auto& [id, bytes] : f.blobs) EXPECT_TRUE(fresh->index().contains(id));
  EXPECT_EQ(repair_index(*Repository::open(f.mem, "pw"), {}).packs_read, 0u);
  // --full reads everything again (and only adds segments).
  IndexRepairOptions full;
  full.full = true;
  EXPECT_EQ(repair_index(*Repository::open(f.mem, "pw"), full).packs_read, packs);
}

TEST(RepairIndex, AnUnreadableTrailerIsReportedAndTheRestIndexed) {
  Filled f(100);
  f.remove_all(ObjectType::kIndex);
  auto packs = f.names(ObjectType::kData);
  Bytes bad = f.mem->load({ObjectType::kData, packs[0]}, 0, 0);
  bad[bad.size() - 45] ^= 1;  // in the trailer
  f.mem->corrupt({ObjectType::kData, packs[0]}, bad);
  auto repo = Repository::open(f.mem, "pw");
  IndexRepairResult r = repair_index(*repo, {});
  EXPECT_EQ(r.unreadable, std::vector<std::string>{packs[0]});
  EXPECT_EQ(r.packs_read, packs.size() - 1);
}

}  // namespace
}  // namespace lifeboat::repo
