// Restoring from several repositories at once (restore/sources.h,
// restore/content.h): copies that share the id key but have their own
// encryption key, password and pack layout.
#include <gtest/gtest.h>

#include <chrono>

#include "backend/fault_backend.h"
#include "repo/config.h"
#include "repo/keys.h"
#include "restore/batch.h"
#include "restore/content.h"
#include "restore/content_pass.h"
#include "restore/restorer.h"
#include "restore/snapshot_builder.h"
#include "restore/sources.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;
using namespace std::chrono_literals;

// A repository created the way `init --copy-params-from` does: the
// original's id and chunker keys, a fresh encryption key, another password.
struct CopyRepo {
  std::shared_ptr<backend::MemBackend> mem = std::make_shared<backend::MemBackend>();
  std::shared_ptr<backend::FaultBackend> fault;
  std::unique_ptr<repo::Repository> repo;

  CopyRepo(const repo::Repository& original, uint32_t pack_size) {
    mem->create();
    repo::MasterKeys keys = repo::MasterKeys::generate();
    keys.id = original.keys().id;
    keys.chunker = original.keys().chunker;
    repo::save_key_file(*mem, repo::make_key_file(keys, "other password",
                                                  crypto::KdfParams::for_tests(), {}));
    repo::Config config = original.config();
    config.pack_size = pack_size;
    mem->save({ObjectType::kConfig, "config"}, repo::encode_config(keys.encryption, config));
    fault = std::make_shared<backend::FaultBackend>(mem);
    repo = repo::Repository::open(fault, "other password");
    repo->load_index();
  }

  // Stores every blob of `from` whose id passes `keep`, in reverse order of
  // the original's index, so packs and offsets differ from the original's.
  void copy_from(const repo::Repository& from,
                 const std::function<bool(const repo::BlobLocation&)>& keep = {}) {
    std::vector<repo::BlobLocation> all;
    from.index().for_each([&](const repo::BlobLocation& l) {
      if (!keep || keep(l)) all.push_back(l);
    });
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.pack != b.pack ? b.pack < a.pack : b.entry.offset < a.entry.offset;
    });
    for (const auto& l : all)
      repo->save_blob(l.entry.type, l.entry.id, from.load_blob(l.entry.type, l.entry.id));
    repo->flush();
  }
};

// The primary opened a second time, behind a FaultBackend.
struct Faulty {
  std::shared_ptr<backend::FaultBackend> fault;
  std::unique_ptr<repo::Repository> repo;
  explicit Faulty(TestRepo& t) {
    fault = std::make_shared<backend::FaultBackend>(t.mem);
    repo = repo::Repository::open(fault, "pw");
    repo->load_index();
  }
};

// A snapshot of `files` files of ~`size` bytes each, in small packs (many ranges).
struct Fixture {
  TestRepo t{128 << 10};
  std::vector<Bytes> contents;
  Id snap;
  explicit Fixture(int files = 24, size_t size = 150000) {
    std::vector<Node> children;
    for (int i = 0; i < files; ++i) {
      contents.push_back(random_bytes(size + static_cast<size_t>(i) * 1000));
      children.push_back(t.file("f" + std::to_string(i), contents.back(), 40000));
    }
    snap = t.snapshot({t.dir("d", children)});
  }
  void expect_exact(const std::string& out) const {
    for (size_t i = 0; i < contents.size(); ++i)
      EXPECT_EQ(read_file(out + "/d/f" + std::to_string(i)), contents[i]) << i;
  }
};

// The fixture's repository and a copy of it, each behind a FaultBackend
// slowed to `primary_latency` / `copy_latency` per read.
struct TwoRepos {
  CopyRepo copy;
  Faulty primary;
  TwoRepos(TestRepo& t, std::chrono::microseconds primary_latency,
           std::chrono::microseconds copy_latency)
      : copy(*t.repo, 96 << 10), primary(t) {
    copy.copy_from(*t.repo);
    primary.fault->slow_loads(ObjectType::kData, primary_latency, 0);
    copy.fault->slow_loads(ObjectType::kData, copy_latency, 0);
  }
};

RestoreResult restore_from(repo::Repository& primary, std::vector<repo::Repository*> more,
                           const Id& snap, const std::string& target, Errors& errors) {
  RestoreOptions options;
  options.on_error = errors.callback();
  options.more_repos = std::move(more);
  options.verify = true;
  return run_restore(primary, snap, target, options);
}

TEST(MultiRepo, BothHealthyRepositoriesServeTheRestore) {
  Fixture f;
  // Equal and slow enough that every fetcher of both gets work.
  TwoRepos two(f.t, 10ms, 10ms);

  TempDir tmp;
  Errors errors;
  RestoreResult r =
      restore_from(*two.primary.repo, {two.copy.repo.get()}, f.snap, tmp.sub("out"), errors);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.mismatches, 0u);
  f.expect_exact(tmp.sub("out"));
  ASSERT_EQ(r.sources.size(), 2u);
  EXPECT_GT(r.sources[0].bytes, 0u);
  EXPECT_GT(r.sources[1].bytes, 0u);
  EXPECT_GT(r.sources[1].reads, 0u);
  EXPECT_EQ(r.sources[0].failures + r.sources[1].failures, 0u);
  EXPECT_GT(r.sources[1].mb_per_s(), 0);
}

TEST(MultiRepo, MostBytesComeFromTheFastRepository) {
  Fixture f(48);
  // The primary is the slow one: trees still come from it, content mostly not.
  TwoRepos two(f.t, 80ms, 2ms);

  TempDir tmp;
  Errors errors;
  RestoreResult r =
      restore_from(*two.primary.repo, {two.copy.repo.get()}, f.snap, tmp.sub("out"), errors);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  f.expect_exact(tmp.sub("out"));
  ASSERT_EQ(r.sources.size(), 2u);
  EXPECT_GT(r.sources[1].bytes, 4 * r.sources[0].bytes)
      << "slow " << r.sources[0].bytes << " fast " << r.sources[1].bytes;
  EXPECT_GT(r.sources[1].mb_per_s(), r.sources[0].mb_per_s());
}

TEST(MultiRepo, DamagedRepositoryIsCoveredByTheOther) {
  Fixture f;
  CopyRepo copy(*f.t.repo, 96 << 10);
  copy.copy_from(*f.t.repo);
  // Damage the primary: every other pack gone (trees among them), and one
  // bit flipped in every blob read from what is left.
  std::vector<std::string> packs = f.t.data_packs();
  ASSERT_GT(packs.size(), 8u);
  for (size_t i = 0; i < packs.size(); i += 2) f.t.mem->remove({ObjectType::kData, packs[i]});
  Faulty primary(f.t);
  primary.fault->flip_bits_on_load(ObjectType::kData, true);

  TempDir tmp;
  Errors errors;
  RestoreResult r = restore_from(*primary.repo, {copy.repo.get()}, f.snap, tmp.sub("out"), errors);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.mismatches, 0u);
  f.expect_exact(tmp.sub("out"));
  ASSERT_EQ(r.sources.size(), 2u);
  EXPECT_GT(r.sources[0].failures, 0u);
  EXPECT_GT(r.sources[1].fallbacks, 0u);
}

TEST(MultiRepo, UnreachableRepositoryIsGivenUpAndTheOtherServesEverything) {
  Fixture f(12);
  CopyRepo copy(*f.t.repo, 96 << 10);
  copy.copy_from(*f.t.repo);
  // The copy is down for good from the start. The primary answers, but
  // slowly enough that the copy's fetchers certainly try before the
  // primary's have taken every range (in memory, unslowed, they could take
  // them all first, and the copy would never be tried).
  copy.fault->fail_loads(ObjectType::kData, 1 << 30);
  Faulty primary(f.t);
  primary.fault->slow_loads(ObjectType::kData, 5ms, 0);

  TempDir tmp;
  Errors errors;
  RestoreResult r =
      restore_from(*primary.repo, {copy.repo.get()}, f.snap, tmp.sub("out"), errors);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  f.expect_exact(tmp.sub("out"));
  ASSERT_EQ(r.sources.size(), 2u);
  EXPECT_EQ(r.sources[1].bytes, 0u);
  EXPECT_GT(r.sources[1].failures, 0u);
  EXPECT_LE(r.sources[1].failures, 2u * SourceSpeeds::kDownAfter * 4);
}

// The repository backed up into every night scatters one snapshot's content
// over many packs (here: each needed blob alone in a pack with 110 KB of
// other days' data); its tier copy holds it in one pack.
struct ScatteredAndCompact {
  TestRepo t{128 << 10};
  std::vector<Id> needed;
  std::unique_ptr<CopyRepo> copy;
  ScatteredAndCompact() {
    for (int i = 0; i < 40; ++i) {
      needed.push_back(t.blob(random_bytes(30000)));
      t.blob(random_bytes(110000));
    }
    t.repo->flush();
    copy = std::make_unique<CopyRepo>(*t.repo, 4u << 20);
    std::set<Id> keep(needed.begin(), needed.end());
    copy->copy_from(*t.repo, [&](const repo::BlobLocation& l) { return keep.count(l.entry.id) > 0; });
  }
};

TEST(Sources, TheRepositoryHoldingTheBlobsInTheFewestPacksPlans) {
  ScatteredAndCompact s;
  ASSERT_GE(s.t.data_packs().size(), 40u);
  Sources scattered_first({s.t.repo.get(), s.copy->repo.get()});
  EXPECT_EQ(scattered_first.most_compact(s.needed), 1u);
  Sources compact_first({s.copy->repo.get(), s.t.repo.get()});
  EXPECT_EQ(compact_first.most_compact(s.needed), 0u);
  // Equally compact: the primary.
  Sources twice({s.t.repo.get(), s.t.repo.get()});
  EXPECT_EQ(twice.most_compact(s.needed), 0u);
  // Holding more of the blobs comes first, however scattered.
  std::vector<Id> more = s.needed;
  more.push_back(s.t.blob(random_bytes(100)));
  s.t.repo->flush();
  EXPECT_EQ(scattered_first.most_compact(more), 0u);
}

// Planned in the compact copy, the whole restore is one range (40 in the
// scattered primary's layout), read from either repository; the content is
// exact and the copy is reported as where reads were planned.
TEST(MultiRepo, ReadsArePlannedInTheMostCompactRepository) {
  ScatteredAndCompact s;
  ContentPass p;
  for (uint32_t i = 0; i < s.needed.size(); ++i) p.add("f" + std::to_string(i), s.needed[i], 30000, 0);
  FileTable table(p.planned, p.dirs, p.fds, p.reporter, fs::ApplyOptions{false, true}, 100);
  Sources sources({s.t.repo.get(), s.copy->repo.get()});
  ContentRestorer content(sources, table, p.reporter, ContentOptions{});
  content.plan(p.refs, nullptr);
  EXPECT_EQ(content.stats().ranges, 1u);
  content.run([] {});
  EXPECT_EQ(p.reporter.errors.load(), 0u);
  for (uint32_t i = 0; i < s.needed.size(); ++i)
    EXPECT_EQ(s.t.repo->hash(read_file(p.tmp.sub(p.planned[i].name))), s.needed[i]) << i;
  std::vector<SourceStats> stats = sources.stats();
  EXPECT_FALSE(stats[0].planned);
  EXPECT_TRUE(stats[1].planned);
  EXPECT_EQ(stats[0].reads + stats[1].reads, stats[0].reads > 0 ? 40u : 1u)
      << "the one range is one read from the copy, or one read per pack from the primary";
}

TEST(MultiRepo, BlobsPresentInOnlyOneRepositoryAreFoundThere) {
  TestRepo t(128 << 10);
  Bytes only_here = random_bytes(90000), only_there = random_bytes(70000),
        both = random_bytes(50000);
  Id here_id = t.blob(only_here);
  Id both_id = t.blob(both);
  t.repo->flush();
  // The copy gets `both` and every tree, plus a blob the primary never had.
  CopyRepo copy(*t.repo, 96 << 10);
  copy.copy_from(*t.repo, [&](const repo::BlobLocation& l) { return l.entry.id != here_id; });
  Id there_id = copy.repo->hash(only_there);
  copy.repo->save_blob(repo::BlobType::kData, there_id, only_there);
  copy.repo->flush();
  ASSERT_FALSE(t.repo->index().find(there_id));
  ASSERT_FALSE(copy.repo->index().find(here_id));

  Id snap = t.snapshot({t.file_of("here", {{here_id, only_here.size()}}),
                        t.file_of("there", {{there_id, only_there.size()}, {both_id, both.size()}}),
                        t.file_of("both", {{both_id, both.size()}})});
  TempDir tmp;
  Errors errors;
  RestoreResult r = restore_from(*t.repo, {copy.repo.get()}, snap, tmp.sub("out"), errors);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(read_file(tmp.sub("out/here")), only_here);
  Bytes there_both = only_there;
  there_both.insert(there_both.end(), both.begin(), both.end());
  EXPECT_EQ(read_file(tmp.sub("out/there")), there_both);
  EXPECT_EQ(read_file(tmp.sub("out/both")), both);

  // Alone, the primary cannot restore "there".
  Errors alone;
  RestoreOptions options;
  options.on_error = alone.callback();
  EXPECT_EQ(run_restore(*t.repo, snap, tmp.sub("alone"), options).errors, 1u);
}

TEST(MultiRepo, ABatchFetchesEachBlobOnceAcrossRepositories) {
  TestRepo t(128 << 10);
  Bytes shared = random_bytes(300000);
  std::vector<Node> files_a{t.file("core", shared, 40000), t.file("own", random_bytes(200000))};
  std::vector<Node> files_b{t.file("core", shared, 40000), t.file("own", random_bytes(250000))};
  Id a = t.snapshot(files_a);
  Id b = t.snapshot(files_b);
  TwoRepos two(t, 5ms, 5ms);

  TempDir tmp;
  BatchOptions bo;
  bo.restore.more_repos = {two.copy.repo.get()};
  bo.restore.verify = true;
  std::vector<SourceStats> stats;
  bo.source_stats = &stats;
  auto results = run_batch(*two.primary.repo, tmp.sub("out"), {{"a", a}, {"b", b}}, bo);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(read_file(tmp.sub("out/a/core")), shared);
  EXPECT_EQ(read_file(tmp.sub("out/b/core")), shared);
  ASSERT_EQ(stats.size(), 2u);
  // Content read once in all: no more than the stored content (plus gaps).
  uint64_t stored = 0;
  t.repo->index().for_each([&](const repo::BlobLocation& l) {
    if (l.entry.type == repo::BlobType::kData) stored += l.entry.stored_length;
  });
  EXPECT_LE(stats[0].bytes + stats[1].bytes, stored + stored / 4);
}

TEST(SourceSpeeds, UnmeasuredRepositoriesStartEqualAndSlowOnesStopBeforeTheTail) {
  SourceSpeeds speeds(2);
  EXPECT_TRUE(speeds.should_take(0, 1 << 20, 100 << 20, 4));
  EXPECT_TRUE(speeds.should_take(1, 1 << 20, 100 << 20, 4));
  speeds.read_done(0, 10 << 20, 0.1);  // 100 MiB/s per read
  EXPECT_TRUE(speeds.should_take(0, 1 << 20, 100 << 20, 4));
  EXPECT_TRUE(speeds.should_take(1, 1 << 20, 100 << 20, 4));  // 1 still unmeasured
  speeds.read_done(1, 1 << 20, 1.0);  // 1 MiB/s per read
  // Plenty left: the others need 0.25 s for it, the slow one 1 s for a range: no.
  EXPECT_FALSE(speeds.should_take(1, 1 << 20, 100 << 20, 4));
  // Very much left (the others need longer than one slow read): yes.
  EXPECT_TRUE(speeds.should_take(1, 1 << 20, uint64_t{1} << 31, 4));
  EXPECT_TRUE(speeds.should_take(0, 1 << 20, 1 << 20, 4));
  EXPECT_EQ(speeds.preference(), (std::vector<size_t>{0, 1}));
  for (int i = 0; i < SourceSpeeds::kDownAfter; ++i) speeds.unreachable(0);
  EXPECT_TRUE(speeds.down(0));
  EXPECT_FALSE(speeds.should_take(0, 1 << 20, 100 << 20, 4));
  EXPECT_TRUE(speeds.should_take(1, 1 << 20, 1 << 20, 4));  // the only usable one
  EXPECT_EQ(speeds.preference(), (std::vector<size_t>{1, 0}));
}

}  // namespace
}  // namespace lifeboat::restore::test
