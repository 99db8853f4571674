#include "repo/repository.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "crypto/random.h"
#include "repo/sealed.h"

namespace lifeboat::repo {
namespace {

using backend::Handle;
using backend::MemBackend;
using backend::ObjectType;

std::shared_ptr<MemBackend> make_repo(const std::string& password = "secret") {
  auto be = std::make_shared<MemBackend>();
  Repository::init(*be, password, crypto::KdfParams::for_tests(), KeyFileInfo{});
  return be;
}

TEST(Repository, InitOpenAndWrongPassword) {
  auto be = make_repo();
  EXPECT_NO_THROW(Repository::open(be, "secret"));
  try {
    Repository::open(be, "nope");
    FAIL() << "opened with a wrong password";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWrongPassword);
  }
  EXPECT_THROW(Repository::init(*be, "x", crypto::KdfParams::for_tests(), {}), Error);
  auto empty = std::make_shared<MemBackend>();
  try {
    Repository::open(empty, "secret");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotARepository);
  }
}

TEST(Repository, BlobsRoundTripAcrossReopenWithDedup) {
  auto be = make_repo();
  std::vector<Bytes> blobs;
  for (int i = 0; i < 50; ++i) {
    Bytes b = crypto::random_bytes(1000 + i * 997);
    if (i % 2) std::fill(b.begin(), b.end(), static_cast<uint8_t>(i));  // compressible
    blobs.push_back(b);
  }
  std::vector<Id> ids;
  {
    auto repo = Repository::open(be, "secret");
    for (auto& b : blobs) {
      ids.push_back(repo->hash(b));
      EXPECT_TRUE(repo->save_blob(BlobType::kData, ids.back(), b));
      EXPECT_FALSE(repo->save_blob(BlobType::kData, ids.back(), b));  // dedup
    }
    repo->flush();
    EXPECT_EQ(repo->stats().blobs_added, blobs.size());
    EXPECT_EQ(repo->load_blob(BlobType::kData, ids[3]), blobs[3]);
  }
  auto repo = Repository::open(be, "secret");
  EXPECT_TRUE(repo->load_index().empty());
  EXPECT_EQ(repo->index().blob_count(), blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) EXPECT_EQ(repo->load_blob(BlobType::kData, ids[i]), blobs[i]);
  EXPECT_FALSE(repo->save_blob(BlobType::kData, ids[0], blobs[0]));
}

TEST(Repository, ConcurrentSaversProduceManyPacksAllReadable) {
  auto be = std::make_shared<MemBackend>();
  Config cfg = Config::make_new();
  cfg.pack_size = 256 << 10;  // small packs: many of them
  Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {}, cfg);
  auto repo = Repository::open(be, "pw", RepositoryOptions{2, 2, 2, {}});
  std::vector<std::thread> threads;
  std::vector<std::vector<std::pair<Id, Bytes>>> saved(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        Bytes b = crypto::random_bytes(10000);
        Id id = repo->hash(b);
        repo->save_blob(BlobType::kData, id, b);
        saved[t].emplace_back(id, b);
      }
    });
  }
  for (auto& th : threads) th.join();
  repo->flush();
  EXPECT_GT(repo->stats().packs_written, 3u);
  auto again = Repository::open(be, "pw");
  again->load_index();
  for (auto& v : saved)
    for (auto& [id, b] : v) EXPECT_EQ(again->load_blob(BlobType::kData, id), b);
}

TEST(Repository, DamagedPackIsDetectedOnRead) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  Bytes b = crypto::random_bytes(5000);
  Id id = repo->hash(b);
  repo->save_blob(BlobType::kData, id, b);
  repo->flush();
  std::string pack_name;
  be->list(ObjectType::kData, [&](std::string_view n, uint64_t) { pack_name = n; });
  Handle h{ObjectType::kData, pack_name};
  Bytes raw = be->load(h, 0, 0);
  raw[100] ^= 1;
  be->corrupt(h, raw);
  try {
    repo->load_blob(BlobType::kData, id);
    FAIL() << "damaged blob was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(e.message().find(pack_name), std::string::npos);
  }
}

TEST(Repository, PackTrailerListsEveryBlob) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  std::vector<Id> ids;
  for (int i = 0; i < 10; ++i) {
    Bytes b = crypto::random_bytes(777 + i);
    ids.push_back(repo->hash(b));
    repo->save_blob(i % 2 ? BlobType::kTree : BlobType::kData, ids.back(), b);
  }
  repo->flush();
  std::string pack_name;
  uint64_t size = 0;
  be->list(ObjectType::kData, [&](std::string_view n, uint64_t s) { pack_name = n; size = s; });
  Handle h{ObjectType::kData, pack_name};
  Bytes raw = be->load(h, 0, 0);
  Id pack_id = *Id::from_hex(pack_name);
  EXPECT_EQ(crypto::sha256(raw), pack_id);
  PackFooter footer = parse_pack_footer(raw, pack_id);
  ByteView trailer(raw.data() + raw.size() - kPackFooterSize - footer.trailer_length, footer.trailer_length);
  auto entries = parse_pack_trailer(repo->keys().encryption, footer, trailer, size, pack_id);
  ASSERT_EQ(entries.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(entries[i].id, ids[i]);
    EXPECT_EQ(entries[i].type, i % 2 ? BlobType::kTree : BlobType::kData);
    auto loc = repo->index().find(ids[i]);
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc->entry.offset, entries[i].offset);
  }
}

TEST(Repository, SnapshotsAndTrees) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  Tree t;
  Node n;
  n.name = std::string("f\xff\nname", 7);
  n.type = NodeType::kFile;
  n.mode = 04755;
  n.mtime_ns = -123456789;
  n.size = 5;
  n.xattrs = {{"user.a", std::string("\0\1", 2)}};
  n.content = {{repo->hash(as_bytes("hello")), 5}, {Id{}, 4096}};
  t.nodes.push_back(n);
  Id tree_id = repo->save_tree(t);
  repo->flush();
  Tree back = repo->load_tree(tree_id);
  ASSERT_EQ(back.nodes.size(), 1u);
  EXPECT_EQ(back.nodes[0], n);

  Snapshot s;
  s.time = 1000;
  s.account = "alice";
  s.node = "web209";
  s.paths = {"/home/alice", std::string("/x\xfe", 3)};
  s.tree = tree_id;
  Id sid = repo->save_snapshot(s);
  Snapshot s2 = s;
  s2.time = 2000;
  s2.account = "bob";
  repo->save_snapshot(s2);
  auto all = repo->list_snapshots();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].second.account, "alice");
  EXPECT_EQ(all[0].second.paths, s.paths);
  EXPECT_EQ(repo->find_snapshot("latest").second.account, "bob");
  EXPECT_EQ(repo->find_snapshot("latest", "alice").first, sid);
  EXPECT_EQ(repo->find_snapshot(sid.hex().substr(0, 8)).first, sid);
  EXPECT_THROW(repo->find_snapshot("latest", "carol"), Error);
  EXPECT_THROW(repo->find_snapshot("zz"), Error);
}

// Two backups share one Repository. A blob one of them finds already being
// saved by the other (so its save_blob returns false) must still be durable
// and indexed when its own flush returns, or its snapshot could name a blob
// that is not in the repository (law 2). The other thread is slowed down by
// compressing a large blob, which keeps it between "claimed" and "in a pack"
// while the flush runs.
TEST(Repository, FlushCoversBlobsAnotherThreadIsStillSaving) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  for (int round = 0; round < 12; ++round) {
    // ~4 MiB of compressible text: zstd takes milliseconds on it.
    Bytes blob;
    blob.reserve(4u << 20);
    uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(round + 1);
    while (blob.size() < (4u << 20)) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const char* words[] = {"account ", "wp-content ", "index.php ", "SELECT ", "\n"};
      for (const char* c = words[x % 5]; *c; ++c) blob.push_back(static_cast<uint8_t>(*c));
      blob.push_back(static_cast<uint8_t>('a' + x % 26));
    }
    const Id id = repo->hash(blob);
    std::atomic<bool> started{false};
    std::thread other([&] {
      started = true;
      repo->save_blob(BlobType::kData, id, blob);
    });
    while (!started) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    const bool mine = repo->save_blob(BlobType::kData, id, blob);
    repo->flush();
    // Whoever stored it, it is durable and listed in a segment now.
    auto fresh = Repository::open(be, "secret");
    fresh->load_index();
    EXPECT_TRUE(fresh->index().contains(id)) << "round " << round << (mine ? " (stored here)" : " (stored by the other thread)");
    if (fresh->index().contains(id)) {
      EXPECT_EQ(fresh->load_blob(BlobType::kData, id), blob);
    }
    other.join();
  }
}

// What each caller stored is counted in its own tally.
TEST(Repository, SaveTallyCountsOnlyTheCallersBlobs) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  SaveTally a, b;
  Bytes one = crypto::random_bytes(5000), two = crypto::random_bytes(7000);
  EXPECT_TRUE(repo->save_blob(BlobType::kData, repo->hash(one), one, &a));
  EXPECT_FALSE(repo->save_blob(BlobType::kData, repo->hash(one), one, &b));
  EXPECT_TRUE(repo->save_blob(BlobType::kData, repo->hash(two), two, &b));
  repo->flush();
  EXPECT_EQ(a.blobs.load(), 1u);
  EXPECT_EQ(a.bytes.load(), 5000u);
  EXPECT_GE(a.bytes_stored.load(), 5000u);  // random data does not compress; + GCM tag
  EXPECT_EQ(b.blobs.load(), 1u);
  EXPECT_EQ(b.bytes.load(), 7000u);
  EXPECT_EQ(repo->stats().bytes_added, 12000u);
}

TEST(Repository, KeysAddListRemove) {
  auto be = make_repo();
  auto repo = Repository::open(be, "secret");
  std::string second = repo->add_key("other", crypto::KdfParams::for_tests(), {"", "host2", "", "", 0});
  EXPECT_EQ(repo->list_keys().size(), 2u);
  auto via_second = Repository::open(be, "other");
  EXPECT_EQ(via_second->key_name(), second);
  EXPECT_EQ(via_second->keys().id, repo->keys().id);
  EXPECT_THROW(repo->remove_key(repo->key_name()), Error);  // in use
  via_second->remove_key(repo->key_name());
  EXPECT_THROW(Repository::open(be, "secret"), Error);
  EXPECT_EQ(repo->list_keys().size(), 1u);
}

TEST(Sealed, RejectsWrongContextAndTampering) {
  crypto::Key32 key{};
  key[0] = 7;
  Bytes payload(1000, 'x');
  Bytes sealed = seal_object(key, "index", payload);
  EXPECT_EQ(open_object(key, "index", sealed, "t"), payload);
  EXPECT_THROW(open_object(key, "snapshot", sealed, "t"), Error);
  sealed[sealed.size() / 2] ^= 0x40;
  EXPECT_THROW(open_object(key, "index", sealed, "t"), Error);
}

TEST(Index, CostsFortyEightBytesPerBlobAndMergesOverlay) {
  EXPECT_EQ(Index::kBytesPerBlob, 48u);
  Index idx;
  PackInfo p;
  p.id.bytes[0] = 1;
  for (uint32_t i = 0; i < 70000; ++i) {
    PackEntry e;
    put_u32le(e.id.bytes.data(), i * 2654435761u);
    put_u32le(e.id.bytes.data() + 4, i);
    e.offset = i;
    e.stored_length = 20;
    e.raw_length = i;
    e.type = i % 3 ? BlobType::kData : BlobType::kTree;
    p.entries.push_back(e);
  }
  idx.add_pack(p);
  EXPECT_EQ(idx.blob_count(), 70000u);
  for (uint32_t i = 0; i < 70000; i += 997) {
    auto loc = idx.find(p.entries[i].id);
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc->entry.raw_length, i);
    EXPECT_EQ(loc->entry.type, i % 3 ? BlobType::kData : BlobType::kTree);
  }
  crypto::Key32 key{};
  auto decoded = decode_index_segment(key, encode_index_segment(key, {p}), "seg");
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_EQ(decoded[0].entries.size(), p.entries.size());
  EXPECT_EQ(decoded[0].entries[5].id, p.entries[5].id);
}

}  // namespace
}  // namespace lifeboat::repo

namespace lifeboat::repo {
namespace {

TEST(Index, BulkLoadKeepsFirstLocationAndFindsEverything) {
  Index idx;
  PackInfo a, b;
  a.id.bytes[0] = 1;
  b.id.bytes[0] = 2;
  for (uint32_t i = 0; i < 200000; ++i) {
    PackEntry e;
    put_u32le(e.id.bytes.data(), i * 2654435761u);
    put_u32le(e.id.bytes.data() + 4, i);
    e.offset = i;
    e.stored_length = 20;
    e.raw_length = 1;
    (i % 2 ? a : b).entries.push_back(e);
  }
  PackEntry dup = a.entries[10];  // the same blob also in pack b
  dup.offset = 999999;
  b.entries.push_back(dup);
  idx.add_pack(a);  // known before the bulk load: must keep its location
  idx.add_packs({b});
  EXPECT_EQ(idx.blob_count(), 200000u);
  EXPECT_EQ(idx.find(dup.id)->pack, a.id);
  for (size_t i = 0; i < b.entries.size() - 1; i += 1013) EXPECT_EQ(idx.find(b.entries[i].id)->pack, b.id);
}

TEST(Snapshot, NonUtf8StringFieldsRoundTrip) {
  Snapshot s;
  s.time = 5;
  s.hostname = "host\xff";
  s.account = "\xc0\x80overlong";
  s.tags = {"t\xed\xa0\x80"};  // a surrogate
  s.paths = {"/home/\xe9t\xe9"};
  Snapshot back = snapshot_from_json(snapshot_to_json(s), "t");
  EXPECT_EQ(back.hostname, s.hostname);
  EXPECT_EQ(back.account, s.account);
  EXPECT_EQ(back.tags, s.tags);
  EXPECT_EQ(back.paths, s.paths);
  EXPECT_THROW(snapshot_from_json(R"({"time":"garbage","paths":[],"tree":"00"})", "t"), Error);
}

}  // namespace
}  // namespace lifeboat::repo
