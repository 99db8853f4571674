#include "copy/copier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "backend/fault_backend.h"
#include "backend/mem_backend.h"
#include "backup/archiver.h"
#include "copy/shared_params.h"
#include "restore/restorer.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/trailer_counter.h"
#include "support/tree_compare.h"

namespace lifeboat::copy {
namespace {

using backend::MemBackend;

// Small chunks and packs, so a few MiB of test data make many blobs and
// several packs (and flushes) per snapshot.
repo::Config small_config() {
  repo::Config c = repo::Config::make_new();
  c.chunker = {8u << 10, 32u << 10, 128u << 10};
  c.pack_size = 256u << 10;
  return c;
}

struct Tiers : ::testing::Test {
  std::shared_ptr<MemBackend> src_be = std::make_shared<MemBackend>();
  std::shared_ptr<MemBackend> dst_be = std::make_shared<MemBackend>();
  std::unique_ptr<repo::Repository> src;
  test::TempDir dir{"lifeboat-copy"};
  std::string home = dir.sub("home");

  void SetUp() override {
    repo::Repository::init(*src_be, "src-pw", crypto::KdfParams::for_tests(), {}, small_config());
    src = repo::Repository::open(src_be, "src-pw");
    src->load_index();
    init_sharing_params(*dst_be, "dst-pw", crypto::KdfParams::for_tests(), {}, *src);
    std::filesystem::create_directories(home + "/site/img");
    test::write_file(home + "/site/index.html", "<html>hello</html>\n");
    test::write_file(home + "/site/img/big.bin", test::seeded_bytes(2u << 20, 1));
    test::write_file(home + "/site/log.txt", std::string(300000, 'x'));
    test::write_file(home + "/notes.txt", test::seeded_bytes(70000, 2));
  }

  backup::BackupResult backup(const std::string& account = "alice") {
    backup::BackupOptions o;
    o.account = account;
    o.node = "web1";
    return backup::run_backup(*src, home, o);
  }

  std::unique_ptr<repo::Repository> open_dst(std::shared_ptr<backend::Backend> be = nullptr) {
    return repo::Repository::open(be ? be : dst_be, "dst-pw");
  }

  CopyReport copy_all(repo::Repository& dst, CopyOptions options = {}) {
    require_shared_ids(*src, dst);
    Destination d = prepare_destination(dst);
    return copy_snapshots(*src, d, select_snapshots(src->list_snapshots(), {}), options);
  }

  size_t src_blobs() {
    auto fresh = repo::Repository::open(src_be, "src-pw");
    fresh->load_index();
    return fresh->index().blob_count();
  }
};

TEST_F(Tiers, TreesOfOnePackAreReadTogether) {
  for (int d = 0; d < 200; ++d) {
    const std::string sub = home + "/many/d" + std::to_string(d);
    std::filesystem::create_directories(sub);
    test::write_file(sub + "/f", "file " + std::to_string(d));
  }
  backup();
  auto counting = std::make_shared<test::TrailerCounter>(src_be);
  auto remote_src = repo::Repository::open(counting, "src-pw");
  remote_src->load_index();
  auto dst = open_dst();
  require_shared_ids(*remote_src, *dst);
  Destination d = prepare_destination(*dst);
  CopyReport r = copy_snapshots(*remote_src, d, select_snapshots(remote_src->list_snapshots(), {}), {});
  EXPECT_EQ(r.copied, 1u);
  // 200+ trees and 200 small files: one read per pack region, not per blob.
  EXPECT_LE(counting->pack_reads.load(), 40) << "trees or blobs were read one request each";
}

TEST_F(Tiers, SendsOnlyTheBlobsTheDestinationLacks) {
  backup();
  auto dst = open_dst();
  CopyReport first = copy_all(*dst);
  EXPECT_EQ(first.copied, 1u);
  EXPECT_EQ(first.skipped, 0u);
  EXPECT_EQ(first.blobs_sent, src_blobs());
  EXPECT_GT(first.blobs_sent, 60u);  // many chunks of the 2 MiB file

  // The same snapshots again: nothing to send, nothing new in dst.
  auto dst2 = open_dst();
  CopyReport again = copy_all(*dst2);
  EXPECT_EQ(again.copied, 0u);
  EXPECT_EQ(again.skipped, 1u);
  EXPECT_EQ(again.blobs_sent, 0u);
  EXPECT_EQ(dst2->list_snapshots().size(), 1u);

  // A new snapshot sharing most data: only its new blobs travel.
  test::write_file(home + "/site/new.txt", test::seeded_bytes(5000, 9));
  const uint64_t before = src_blobs();
  backup();
  const uint64_t added = src_blobs() - before;
  ASSERT_GT(added, 0u);
  auto dst3 = open_dst();
  CopyReport third = copy_all(*dst3);
  EXPECT_EQ(third.copied, 1u);
  EXPECT_EQ(third.skipped, 1u);
  EXPECT_EQ(third.blobs_sent, added);  // the new file and the trees above it
  EXPECT_LT(third.blobs_sent, 10u);
}

TEST_F(Tiers, RestoreFromTheCopyIsIdentical) {
  auto made = backup();
  {
    auto dst = open_dst();
    copy_all(*dst);
  }
  auto dst = open_dst();
  dst->load_index();
  auto snaps = dst->list_snapshots();
  ASSERT_EQ(snaps.size(), 1u);
  const repo::Snapshot& s = snaps[0].second;
  EXPECT_EQ(s.tree, made.snapshot.tree);  // same ids across tiers
  EXPECT_EQ(s.time, made.snapshot.time);
  EXPECT_EQ(s.account, "alice");
  EXPECT_EQ(s.node, "web1");
  EXPECT_NE(snaps[0].first, made.snapshot_id);  // sealed with another key

  std::string out = dir.sub("out");
  restore::RestoreOptions ro;
  auto result = restore::run_restore(*dst, s.tree, out, ro);
  EXPECT_EQ(result.errors, 0u);
  EXPECT_EQ(test::compare_trees(home, out, {.owners = false}), std::vector<std::string>{});
}

TEST_F(Tiers, RefusesADestinationWithOtherIdKeys) {
  backup();
  auto other_be = std::make_shared<MemBackend>();
  repo::Repository::init(*other_be, "dst-pw", crypto::KdfParams::for_tests(), {});
  auto other = repo::Repository::open(other_be, "dst-pw");
  try {
    require_shared_ids(*src, *other);
    FAIL() << "copy between repositories with different id keys was allowed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(e.message().find("lifeboat init --copy-params-from"), std::string::npos) << e.message();
  }
  EXPECT_THROW(require_shared_ids(*src, *src), Error);  // the same repository twice
}

TEST_F(Tiers, InitCopyParamsFromSharesIdsAndChunkingButNotEncryption) {
  auto dst = open_dst();
  EXPECT_EQ(dst->keys().id, src->keys().id);
  EXPECT_EQ(dst->keys().chunker, src->keys().chunker);
  EXPECT_NE(dst->keys().encryption, src->keys().encryption);
  EXPECT_NE(dst->config().id, src->config().id);
  EXPECT_EQ(dst->config().chunker.avg_size, src->config().chunker.avg_size);
  EXPECT_EQ(dst->config().pack_size, src->config().pack_size);
  EXPECT_TRUE(same_chunking(*src, *dst));

  const std::string data = test::seeded_bytes(1u << 20, 7);
  EXPECT_EQ(dst->hash(as_bytes(data)), src->hash(as_bytes(data)));
  auto cuts = [&](const repo::Repository& r) {
    chunk::Chunker c(r.gear(), r.config().chunker);
    std::vector<size_t> out;
    ByteView rest = as_bytes(data);
    while (!rest.empty()) {
      size_t n = c.cut(rest, rest.size() <= r.config().chunker.max_size);
      out.push_back(n);
      rest = rest.subspan(n);
    }
    return out;
  };
  EXPECT_EQ(cuts(*dst), cuts(*src));
  EXPECT_GT(cuts(*dst).size(), 10u);

  // Its own password: the source's does not open it.
  try {
    repo::Repository::open(dst_be, "src-pw");
    FAIL() << "the source password opened the destination";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWrongPassword);
  }
  // An ordinary init shares nothing.
  auto plain_be = std::make_shared<MemBackend>();
  repo::Repository::init(*plain_be, "pw", crypto::KdfParams::for_tests(), {});
  EXPECT_NE(repo::Repository::open(plain_be, "pw")->keys().id, src->keys().id);
}

TEST_F(Tiers, AKilledCopyResumesWithoutSendingEverythingAgain) {
  backup();
  const size_t total = src_blobs();
  {
    // The destination dies part-way (every save from the 12th on fails).
    auto faulty = std::make_shared<backend::FaultBackend>(dst_be);
    faulty->fail_save_at(12, true);
    auto dst = open_dst(faulty);
    CopyOptions o;
    o.flush_every_bytes = 512u << 10;  // two packs
    o.transfer_threads = 1;
    EXPECT_THROW(copy_all(*dst, o), Error);
  }
  auto dst = open_dst();
  CopyReport rerun = copy_all(*dst);
  EXPECT_EQ(rerun.copied, 1u);
  EXPECT_GT(rerun.blobs_sent, 0u);
  EXPECT_LT(rerun.blobs_sent, total);  // what was flushed before the failure stays
  EXPECT_EQ(copy_all(*open_dst()).blobs_sent, 0u);

  auto check = open_dst();
  check->load_index();
  EXPECT_EQ(check->index().blob_count(), total);
  std::string out = dir.sub("out");
  auto result = restore::run_restore(*check, check->list_snapshots()[0].second.tree, out, {});
  EXPECT_EQ(result.errors, 0u);
  EXPECT_EQ(test::compare_trees(home, out, {.owners = false}), std::vector<std::string>{});
}

TEST_F(Tiers, ASnapshotTheSourceCannotProvideFailsAloneAndTheRestIsCopied) {
  backup("alice");
  // A snapshot naming a data blob that no pack holds.
  repo::Tree root;
  repo::Node f;
  f.name = "lost.bin";
  f.type = repo::NodeType::kFile;
  f.size = 10;
  f.content.push_back({src->hash(as_bytes(std::string("never stored"))), 10});
  root.nodes.push_back(f);
  repo::Snapshot broken;
  broken.time = 1;
  broken.account = "bob";
  broken.tree = src->save_tree(root);
  src->flush();
  src->save_snapshot(broken);

  auto dst = open_dst();
  std::vector<SnapshotOutcome> seen;
  CopyOptions o;
  o.on_snapshot = [&](const SnapshotOutcome& out) { seen.push_back(out); };
  CopyReport r = copy_all(*dst, o);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.copied, 1u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, SnapshotOutcome::Kind::kFailed);  // oldest first
  EXPECT_NE(seen[0].error.find("no pack"), std::string::npos) << seen[0].error;
  auto after = open_dst()->list_snapshots();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].second.account, "alice");
}

TEST(Selection, FiltersAndKeepsTheNewestPerAccount) {
  SnapshotList all;
  auto add = [&](int t, std::string node, std::string account, std::vector<std::string> tags = {}) {
    repo::Snapshot s;
    s.time = t;
    s.node = node;
    s.account = account;
    s.tags = tags;
    all.push_back({Id{}, s});
  };
  add(3, "web1", "a");
  add(1, "web1", "a", {"daily"});
  add(2, "web1", "b");
  add(4, "web2", "a", {"daily"});
  EXPECT_EQ(select_snapshots(all, {}).size(), 4u);
  EXPECT_EQ(select_snapshots(all, {}).front().second.time, 1);  // oldest first
  SnapshotFilter by_node, by_account, by_tag, newest;
  by_node.nodes = {"web1"};
  by_account.accounts = {"a"};
  by_tag.tags = {"daily"};
  newest.latest = 1;
  EXPECT_EQ(select_snapshots(all, by_node).size(), 3u);
  EXPECT_EQ(select_snapshots(all, by_account).size(), 3u);
  EXPECT_EQ(select_snapshots(all, by_tag).size(), 2u);
  auto latest = select_snapshots(all, newest);
  ASSERT_EQ(latest.size(), 3u);
  EXPECT_EQ(latest[0].second.time, 2);
  EXPECT_EQ(latest[1].second.time, 3);
  EXPECT_EQ(latest[2].second.time, 4);
}

TEST(Selection, IdentityCoversTreeAndPlaceInTime) {
  repo::Snapshot a;
  a.time = 5;
  a.account = "x";
  a.paths = {"/home/x"};
  repo::Snapshot b = a;
  b.tags = {"other"};
  EXPECT_EQ(snapshot_identity(a), snapshot_identity(b));
  b.tree = Id{};
  b.tree.bytes[0] = 1;
  EXPECT_NE(snapshot_identity(a), snapshot_identity(b));
  repo::Snapshot c = a;
  c.paths = {"/home/x", ""};
  EXPECT_NE(snapshot_identity(a), snapshot_identity(c));
}

}  // namespace
}  // namespace lifeboat::copy
