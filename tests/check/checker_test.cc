#include "check/checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "crypto/random.h"
#include "repo/index.h"

namespace lifeboat::check {
namespace {

using backend::Handle;
using backend::MemBackend;
using backend::ObjectType;
using repo::BlobType;
using repo::Node;
using repo::NodeType;
using repo::Tree;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Forwards to a MemBackend and records which packs were read whole.
class RecordingBackend : public backend::Backend {
 public:
  explicit RecordingBackend(std::shared_ptr<MemBackend> inner) : inner_(std::move(inner)) {}
  std::string location() const override { return inner_->location(); }
  void create() override { inner_->create(); }
  void save(const Handle& h, ByteView data) override { inner_->save(h, data); }
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override {
    if (h.type == ObjectType::kData && offset == 0 && length == 0) {
      std::lock_guard lock(mu_);
      whole_reads_.push_back(h.name);
    }
    return inner_->load(h, offset, length);
  }
  std::optional<uint64_t> size(const Handle& h) override { return inner_->size(h); }
  void remove(const Handle& h) override { inner_->remove(h); }
  void list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) override {
    inner_->list(type, fn);
  }
  std::vector<std::string> take_whole_reads() {
    std::lock_guard lock(mu_);
    auto out = std::move(whole_reads_);
    whole_reads_.clear();
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::shared_ptr<MemBackend> inner_;
  std::mutex mu_;
  std::vector<std::string> whole_reads_;
};

Node file(const std::string& name, std::vector<repo::ContentPart> parts) {
  Node n;
  n.name = name;
  n.type = NodeType::kFile;
  n.mode = 0644;
  for (const auto& p : parts) n.size += p.length;
  n.content = std::move(parts);
  return n;
}

Node dir(const std::string& name, const Id& subtree) {
  Node n;
  n.name = name;
  n.type = NodeType::kDir;
  n.mode = 0755;
  n.subtree = subtree;
  return n;
}

// Three snapshots sharing blobs, laid out so each test can damage one pack:
//   P1 = {S, A1}   S is shared by alice's and bob's /index.php
//   P2 = {B1, B2}  bob's /b.txt (with a hole between them)
//   P3 = {C1}      carol's /c.txt
//   P4 = trees of alice and bob, P5 = trees of carol
//   alice: /index.php [S], /wp/a.txt [A1]
//   bob:   /b.txt [B1, hole, B2], /index.php [S]
//   carol: /c.txt [C1]
class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem = std::make_shared<MemBackend>();
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {});
    recorder = std::make_shared<RecordingBackend>(mem);
    repo = open();

    S = save_data(4000);
    A1 = save_data(3000);
    repo->flush();
    B1 = save_data(2000);
    B2 = save_data(2500);
    repo->flush();
    C1 = save_data(1500);
    repo->flush();

    Id wp = repo->save_tree(Tree{{file("a.txt", {{A1, 3000}})}});
    Id root1 = repo->save_tree(Tree{{file("index.php", {{S, 4000}}), dir("wp", wp)}});
    Id root2 = repo->save_tree(
        Tree{{file("b.txt", {{B1, 2000}, {Id{}, 4096}, {B2, 2500}}), file("index.php", {{S, 4000}})}});
    Id top1 = repo->save_tree(Tree{{dir(".", root1)}});
    Id top2 = repo->save_tree(Tree{{dir(".", root2)}});
    repo->flush();
    Id root3 = repo->save_tree(Tree{{file("c.txt", {{C1, 1500}})}});
    top3 = repo->save_tree(Tree{{dir(".", root3)}});
    repo->flush();

    s1 = snapshot("alice", top1, 1);
    s2 = snapshot("bob", top2, 2);
    s3 = snapshot("carol", top3, 3);
    packs = all_packs();
    ASSERT_EQ(packs.size(), 5u);
  }

  std::unique_ptr<repo::Repository> open() {
    auto r = repo::Repository::open(recorder, "pw", repo::RepositoryOptions{1, 1, 1, {}});
    r->load_index();
    return r;
  }

  Id save_data(size_t n) {
    Bytes b = crypto::random_bytes(n);
    Id id = repo->hash(b);
    repo->save_blob(BlobType::kData, id, b);
    return id;
  }

  Id snapshot(const std::string& account, const Id& tree, UnixNanos time) {
    repo::Snapshot s;
    s.time = time;
    s.account = account;
    s.paths = {"/home/" + account};
    s.tree = tree;
    return repo->save_snapshot(s);
  }

  std::set<std::string> all_packs() {
    std::set<std::string> out;
    mem->list(ObjectType::kData, [&](std::string_view n, uint64_t) { out.emplace(n); });
    return out;
  }

  Id pack_of(const Id& blob) { return repo->index().find(blob)->pack; }

  void flip(const Handle& h, size_t offset) {
    Bytes b = mem->load(h, 0, 0);
    ASSERT_LT(offset, b.size());
    b[offset] ^= 0x10;
    mem->corrupt(h, b);
  }

  // Flips a bit inside a blob's bytes in its pack.
  void damage_blob(const Id& blob) {
    auto loc = repo->index().find(blob);
    ASSERT_TRUE(loc);
    flip({ObjectType::kData, loc->pack.hex()}, loc->entry.offset + 7);
  }

  CheckReport check(bool read_data = false, uint32_t n = 0, uint32_t m = 0) {
    CheckOptions o;
    o.read_data = read_data;
    o.subset_n = n;
    o.subset_m = m;
    o.threads = 3;
    return run_check(*repo, o);
  }

  std::string f(const Id& snap, const std::string& path) { return snap.short_hex() + ":" + path; }

  std::shared_ptr<MemBackend> mem;
  std::shared_ptr<RecordingBackend> recorder;
  std::unique_ptr<repo::Repository> repo;
  Id S, A1, B1, B2, C1, top3;
  Id s1, s2, s3;
  std::set<std::string> packs;
};

std::string dump(const CheckReport& r) {
  std::string out;
  for (const auto& p : r.problems) {
    out += p.kind + " " + p.object + ": " + p.message + "\n";
    for (const auto& s : p.files) out += "    " + s + "\n";
  }
  return out;
}

TEST_F(CheckerTest, CleanRepositoryIsOk) {
  CheckReport r = check();
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.snapshots, 3u);
  EXPECT_EQ(r.trees, 7u);
  EXPECT_EQ(r.blobs, 5u);
  EXPECT_EQ(r.packs, 5u);
  EXPECT_EQ(r.packs_read, 0u);
  EXPECT_EQ(r.unreferenced_packs, 0u);
  EXPECT_THAT(r.warnings, IsEmpty());

  uint64_t total_bytes = 0;
  mem->list(ObjectType::kData, [&](std::string_view, uint64_t s) { total_bytes += s; });
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  CheckOptions o;
  o.read_data = true;
  o.threads = 2;
  o.on_progress = [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  r = run_check(*repo, o);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.packs_read, 5u);
  EXPECT_EQ(r.bytes_read, total_bytes);
  ASSERT_EQ(progress.size(), 6u);
  EXPECT_EQ(progress.front(), std::make_pair(uint64_t{0}, uint64_t{5}));
  EXPECT_EQ(progress.back(), std::make_pair(uint64_t{5}, uint64_t{5}));
}

TEST_F(CheckerTest, FlippedBitIsFoundByReadDataWithExactFiles) {
  damage_blob(B1);
  Id p2 = pack_of(B1);

  // The trailer and sizes are intact: the structure check cannot see it.
  CheckReport r = check();
  EXPECT_TRUE(r.ok()) << dump(r);

  r = check(true);
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  const Problem& p = r.problems[0];
  EXPECT_EQ(p.kind, "pack");
  EXPECT_EQ(p.object, p2.hex());
  EXPECT_NE(p.message.find("1 of 2 blobs fail"), std::string::npos) << p.message;
  EXPECT_THAT(p.blobs, ElementsAre(B1.hex()));
  EXPECT_THAT(p.snapshots, ElementsAre(s2.hex()));
  EXPECT_THAT(p.files, ElementsAre(f(s2, "/b.txt")));
}

TEST_F(CheckerTest, DamagedSharedBlobNamesEverySnapshotAndOnlyItsFiles) {
  damage_blob(S);
  CheckReport r = check(true);
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  const Problem& p = r.problems[0];
  EXPECT_EQ(p.object, pack_of(S).hex());
  EXPECT_THAT(p.blobs, ElementsAre(S.hex()));
  EXPECT_THAT(p.snapshots, UnorderedElementsAre(s1.hex(), s2.hex()));
  EXPECT_THAT(p.files, UnorderedElementsAre(f(s1, "/index.php"), f(s2, "/index.php")));
}

TEST_F(CheckerTest, MissingPackIsReportedWithAffectedSnapshotsAndFiles) {
  Id p1 = pack_of(S);
  mem->remove({ObjectType::kData, p1.hex()});
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  const Problem& p = r.problems[0];
  EXPECT_EQ(p.kind, "pack");
  EXPECT_EQ(p.object, p1.hex());
  EXPECT_EQ(p.message.rfind("missing", 0), 0u) << p.message;
  EXPECT_THAT(p.snapshots, UnorderedElementsAre(s1.hex(), s2.hex()));
  EXPECT_THAT(p.files, UnorderedElementsAre(f(s1, "/index.php"), f(s1, "/wp/a.txt"),
                                            f(s2, "/index.php")));
}

TEST_F(CheckerTest, MissingTreePackIsATreeProblem) {
  Id p5 = pack_of(top3);
  mem->remove({ObjectType::kData, p5.hex()});
  CheckReport r = check();
  EXPECT_FALSE(r.ok());
  bool tree_problem = false, pack_problem = false;
  for (const auto& p : r.problems) {
    if (p.kind == "tree") {
      tree_problem = true;
      EXPECT_EQ(p.object, top3.hex());
      EXPECT_THAT(p.snapshots, ElementsAre(s3.hex()));
      EXPECT_THAT(p.files, ElementsAre(f(s3, "/")));
    }
    if (p.kind == "pack") {
      pack_problem = true;
      EXPECT_EQ(p.object, p5.hex());
      EXPECT_THAT(p.snapshots, ElementsAre(s3.hex()));
    }
  }
  EXPECT_TRUE(tree_problem) << dump(r);
  EXPECT_TRUE(pack_problem) << dump(r);
  EXPECT_EQ(r.snapshots, 3u);
  EXPECT_EQ(r.trees, 5u);  // alice's and bob's
}

TEST_F(CheckerTest, DamagedIndexSegmentIsAnIndexProblemNotDataLoss) {
  Id p2 = pack_of(B1);
  std::string segment;
  mem->list(ObjectType::kIndex, [&](std::string_view n, uint64_t) {
    auto packs = repo::decode_index_segment(repo->keys().encryption,
                                            mem->load({ObjectType::kIndex, std::string(n)}, 0, 0),
                                            std::string(n));
    if (packs.size() == 1 && packs[0].id == p2) segment = n;
  });
  ASSERT_FALSE(segment.empty());
  flip({ObjectType::kIndex, segment}, 50);
  repo = open();  // the index now lacks P2

  CheckReport r = check();
  EXPECT_EQ(r.unreferenced_packs, 1u);
  EXPECT_EQ(r.packs, 4u);
  ASSERT_EQ(r.problems.size(), 2u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "index");
  EXPECT_EQ(r.problems[1].kind, "index");
  const Problem* seg = r.problems[0].object == segment ? &r.problems[0] : &r.problems[1];
  const Problem* pack = r.problems[0].object == segment ? &r.problems[1] : &r.problems[0];
  EXPECT_EQ(seg->object, segment);
  EXPECT_EQ(pack->object, p2.hex());
  EXPECT_THAT(pack->blobs, UnorderedElementsAre(B1.hex(), B2.hex()));
  EXPECT_THAT(pack->snapshots, ElementsAre(s2.hex()));
  EXPECT_THAT(pack->files, ElementsAre(f(s2, "/b.txt")));
  EXPECT_EQ(r.blobs, 5u);
}

TEST_F(CheckerTest, DamagedSnapshotIsASnapshotProblem) {
  flip({ObjectType::kSnapshot, s3.hex()}, 60);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "snapshot");
  EXPECT_EQ(r.problems[0].object, s3.hex());
  EXPECT_THAT(r.problems[0].snapshots, ElementsAre(s3.hex()));
  EXPECT_EQ(r.snapshots, 2u);
}

TEST_F(CheckerTest, UnreferencedPackIsAWarningOnly) {
  repo::PackWriter w(repo->keys().encryption, 1 << 16);
  Bytes b = crypto::random_bytes(1000);
  w.add(BlobType::kData, repo->hash(b), repo::Compression::kNone, 1000, b);
  auto finished = w.finish();
  mem->save({ObjectType::kData, finished.id.hex()}, finished.bytes);

  CheckReport r = check(true);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.unreferenced_packs, 1u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find(finished.id.hex()), std::string::npos);
  EXPECT_EQ(r.packs, 5u);
  EXPECT_EQ(r.packs_read, 6u);
}

TEST_F(CheckerTest, BigTrailersAreReadBeyondTheFirstGuess) {
  // 500 blobs: a 23 KB trailer, more than the first ranged read takes.
  repo::PackWriter w(repo->keys().encryption, 1 << 20);
  for (int i = 0; i < 500; ++i) {
    Bytes b = crypto::random_bytes(64);
    w.add(BlobType::kData, repo->hash(b), repo::Compression::kNone, 64, b);
  }
  auto finished = w.finish();
  mem->save({ObjectType::kData, finished.id.hex()}, finished.bytes);
  CheckReport r = check();
  EXPECT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].find("unreadable"), std::string::npos) << r.warnings[0];
}

TEST_F(CheckerTest, TrailerDisagreeingWithTheIndexIsAPackProblem) {
  repo::PackWriter w(repo->keys().encryption, 1 << 16);
  Bytes b = crypto::random_bytes(1000);
  w.add(BlobType::kData, repo->hash(b), repo::Compression::kNone, 1000, b);
  auto finished = w.finish();
  mem->save({ObjectType::kData, finished.id.hex()}, finished.bytes);
  repo::PackInfo info{finished.id, finished.salt, finished.entries};
  info.entries[0].raw_length = 999;
  Bytes segment = repo::encode_index_segment(repo->keys().encryption, {info});
  mem->save({ObjectType::kIndex, crypto::sha256(segment).hex()}, segment);

  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "pack");
  EXPECT_EQ(r.problems[0].object, finished.id.hex());
  EXPECT_NE(r.problems[0].message.find("does not match the index"), std::string::npos);

  // Nothing is lost: readers fall back to the trailer where the index's
  // entry fails, so the problem is restorable, and read-data verifies the
  // trailer's view (what readers end up using) and finds the blob intact.
  EXPECT_TRUE(r.problems[0].restorable);
  EXPECT_EQ(repo->load_blob(BlobType::kData, finished.entries[0].id), b);
  r = check(true);
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_TRUE(r.problems[0].blobs.empty());
}

TEST_F(CheckerTest, TrailerAndIndexBothWrongNamesTheBlobUnderReadData) {
  repo::PackWriter w(repo->keys().encryption, 1 << 16);
  Bytes b = crypto::random_bytes(1000);
  w.add(BlobType::kData, repo->hash(b), repo::Compression::kNone, 1000, b);
  auto finished = w.finish();
  finished.bytes[finished.entries[0].offset + 10] ^= 1;  // the blob itself is damaged
  mem->save({ObjectType::kData, finished.id.hex()}, finished.bytes);
  repo::PackInfo info{finished.id, finished.salt, finished.entries};
  info.entries[0].raw_length = 999;
  Bytes segment = repo::encode_index_segment(repo->keys().encryption, {info});
  mem->save({ObjectType::kIndex, crypto::sha256(segment).hex()}, segment);
  CheckReport r = check(true);
  ASSERT_EQ(r.problems.size(), 2u) << dump(r);
  EXPECT_THAT(r.problems[1].blobs, ElementsAre(finished.entries[0].id.hex()));
  EXPECT_FALSE(r.problems[1].restorable);
}

TEST_F(CheckerTest, DataBlobInNoIndexIsABlobProblemNamingTheFile) {
  Id ghost = repo->hash(as_bytes("never stored"));
  Id root = repo->save_tree(Tree{{file("ghost.txt", {{ghost, 12}}), file("index.php", {{S, 4000}})}});
  Id top = repo->save_tree(Tree{{dir(".", root)}});
  repo->flush();
  Id s4 = snapshot("dave", top, 4);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "blob");
  EXPECT_EQ(r.problems[0].object, ghost.hex());
  EXPECT_THAT(r.problems[0].snapshots, ElementsAre(s4.hex()));
  EXPECT_THAT(r.problems[0].files, ElementsAre(f(s4, "/ghost.txt")));
}

TEST_F(CheckerTest, DamagedTrailerIsAPackProblemWithoutDataLoss) {
  Id p3 = pack_of(C1);
  uint64_t size = *mem->size({ObjectType::kData, p3.hex()});
  flip({ObjectType::kData, p3.hex()}, size - repo::kPackFooterSize - 10);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "pack");
  EXPECT_NE(r.problems[0].message.find("trailer"), std::string::npos);
  EXPECT_THAT(r.problems[0].files, IsEmpty());  // C1 is still readable

  r = check(true);
  ASSERT_EQ(r.problems.size(), 2u) << dump(r);
  for (const auto& p : r.problems) EXPECT_THAT(p.blobs, IsEmpty());
}

TEST_F(CheckerTest, TruncatedPackLosesTheBlobsPastTheEnd) {
  Id p2 = pack_of(B1);
  Bytes b = mem->load({ObjectType::kData, p2.hex()}, 0, 0);
  b.resize(repo->index().find(B1)->entry.offset + repo->index().find(B1)->entry.stored_length);
  mem->corrupt({ObjectType::kData, p2.hex()}, b);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].message.rfind("truncated", 0), 0u);
  EXPECT_THAT(r.problems[0].files, ElementsAre(f(s2, "/b.txt")));
}

TEST_F(CheckerTest, DamagedKeyFileIsAKeyProblem) {
  std::string second = repo->add_key("other", crypto::KdfParams::for_tests(), {});
  Handle h{ObjectType::kKey, second};
  Bytes k = mem->load(h, 0, 0);
  k.resize(k.size() / 2);  // no longer JSON
  mem->corrupt(h, k);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "key");
  EXPECT_EQ(r.problems[0].object, second);
}

TEST_F(CheckerTest, KeyFileWithAFlippedBitIsAKeyProblem) {
  Handle h{ObjectType::kKey, repo->key_name()};
  Bytes k = mem->load(h, 0, 0);
  std::string text(k.begin(), k.end());
  size_t pos = text.find("\"data\": \"") + 12;
  k[pos] = k[pos] == 'a' ? 'b' : 'a';  // still JSON, still hex
  mem->corrupt(h, k);
  CheckReport r = check();
  ASSERT_EQ(r.problems.size(), 1u) << dump(r);
  EXPECT_EQ(r.problems[0].kind, "key");
}

TEST_F(CheckerTest, ReadDataSubsetsCoverEveryPackOnceAndAreDeterministic) {
  recorder->take_whole_reads();
  CheckReport a = check(true, 1, 2);
  auto first = recorder->take_whole_reads();
  CheckReport b = check(true, 2, 2);
  auto second = recorder->take_whole_reads();
  CheckReport again = check(true, 1, 2);
  auto first_again = recorder->take_whole_reads();

  EXPECT_TRUE(a.ok() && b.ok() && again.ok());
  EXPECT_EQ(first, first_again);
  EXPECT_EQ(a.packs_read, first.size());
  EXPECT_EQ(b.packs_read, second.size());
  std::set<std::string> all(first.begin(), first.end());
  for (const auto& p : second) EXPECT_TRUE(all.insert(p).second) << p << " read by both halves";
  EXPECT_EQ(all, packs);
  for (const auto& p : first) EXPECT_EQ(std::stoi(p.substr(0, 2), nullptr, 16) % 2, 0);
}

TEST_F(CheckerTest, ReadDataSubsetFindsDamageOnlyInItsHalf) {
  damage_blob(C1);
  Id p3 = pack_of(C1);
  uint32_t mine = p3.bytes[0] % 2 + 1;
  CheckReport hit = check(true, mine, 2);
  CheckReport miss = check(true, 3 - mine, 2);
  ASSERT_EQ(hit.problems.size(), 1u) << dump(hit);
  EXPECT_THAT(hit.problems[0].files, ElementsAre(f(s3, "/c.txt")));
  EXPECT_TRUE(miss.ok()) << dump(miss);
}

TEST_F(CheckerTest, BadSubsetIsRejected) {
  EXPECT_THROW(check(true, 0, 2), Error);
  EXPECT_THROW(check(true, 3, 2), Error);
  EXPECT_THROW(check(true, 1, 0), Error);
  EXPECT_THROW(check(true, 1, 300), Error);
}

TEST_F(CheckerTest, PacksIndexedAfterTheCallerLoadedTheIndexAreChecked) {
  auto stale = repo::Repository::open(recorder, "pw");  // index not loaded
  CheckReport r = run_check(*stale, CheckOptions{});
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.blobs, 5u);
  EXPECT_EQ(stale->index().pack_count(), 5u);
}

}  // namespace
}  // namespace lifeboat::check
