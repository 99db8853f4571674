#include "restore/batch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

// Collects what a batch reports, per item.
struct BatchLog {
  std::mutex mu;
  std::vector<size_t> done_order;
  std::vector<std::string> messages;
  BatchOptions options() {
    BatchOptions o;
    o.restore.verify = true;
    o.on_error = [this](size_t i, const std::string& path, const std::string& message) {
      std::lock_guard lock(mu);
      messages.push_back(std::to_string(i) + " " + path + ": " + message);
    };
    o.on_item_done = [this](size_t i, const ItemResult&) {
      std::lock_guard lock(mu);
      done_order.push_back(i);
    };
    return o;
  }
  std::string dump() {
    std::string out;
    for (const auto& m : messages) out += m + "\n";
    return out;
  }
};

// A node of five accounts that all hold the same 300 KB "CMS core" in
// three files, plus files, a symlink and a hard link of their own.
struct Node5 {
  TestRepo t{256 << 10};
  Bytes core = random_bytes(300000);
  std::vector<Bytes> own;
  std::vector<BatchItem> items;
  Node5() {
    std::vector<ContentPart> core_parts = t.parts(core, 100000);
    for (int i = 0; i < 5; ++i) {
      own.push_back(random_bytes(20000 + 150000 * static_cast<size_t>(i)));
      Node a = t.file("own.bin", own.back(), 64 << 10);
      Node link = a;
      a.links = link.links = 2;
      a.inode = link.inode = 77;
      link.name = "own-link.bin";
      items.push_back(BatchItem{
          "acct" + std::to_string(i),
          t.snapshot({t.dir("public_html", {t.file_of("core.php", core_parts), t.symlink("latest", "core.php")}),
                      a, link, t.fifo("pipe")})});
    }
  }
};

TEST(BatchRestore, SharedContentIsFetchedOnceAndEveryItemIsVerified) {
  Node5 n;
  TempDir tmp;
  BatchLog log;
  BatchOptions o = log.options();
  BatchProgress progress(n.items.size());
  o.progress = &progress;
  std::vector<ItemResult> results = run_batch(*n.t.repo, tmp.sub("home"), n.items, o);
  ASSERT_EQ(results.size(), 5u);
  uint64_t written = 0;
  for (size_t i = 0; i < 5; ++i) {
    const ItemResult& r = results[i];
    EXPECT_TRUE(r.ok()) << i << "\n" << log.dump();
    EXPECT_TRUE(r.verified) << i;
    EXPECT_EQ(r.counts.files, 3u);  // core.php, own.bin, its hard link
    EXPECT_EQ(r.counts.other, 2u);  // symlink, fifo
    EXPECT_GT(r.finished_ns, 0);
    EXPECT_GE(r.finished_ns, r.started_ns);
    EXPECT_EQ(progress.phases[i].load(), BatchProgress::kDone);
    EXPECT_EQ(progress.items[i].bytes_done.load(), r.bytes_total);
    written += r.counts.bytes;
    const std::string home = tmp.sub("home/acct" + std::to_string(i));
    EXPECT_EQ(read_file(home + "/public_html/core.php"), n.core);
    EXPECT_EQ(read_file(home + "/own.bin"), n.own[i]);
    EXPECT_EQ(lstat_of(home + "/own.bin").st_ino, lstat_of(home + "/own-link.bin").st_ino);
    EXPECT_EQ(lstat_of(home).st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(home).st_mtim.tv_sec, 1'234'567'890);
  }
  EXPECT_EQ(log.done_order.size(), 5u);
  // The core is written five times but read from the repository once: no
  // pack byte is read twice.
  auto [loads, bytes] = n.t.content_loads();
  EXPECT_LE(bytes, n.t.data_pack_bytes());
  EXPECT_GE(written, 5u * n.core.size());
  EXPECT_LT(bytes, written - 3 * n.core.size());
}

TEST(BatchRestore, ItemsAreFinishedInTheOrderGiven) {
  // With one fetcher and one worker the order is exact: ranges are fetched
  // item by item, so an item is complete before the next one's content.
  for (bool reversed : {false, true}) {
    Node5 n;
    if (reversed) std::reverse(n.items.begin(), n.items.end());
    TempDir tmp;
    BatchLog log;
    BatchOptions o = log.options();
    o.restore.fetch_threads = 1;
    o.restore.worker_threads = 1;
    auto results = run_batch(*n.t.repo, tmp.sub("home"), n.items, o);
    for (const auto& r : results) EXPECT_TRUE(r.ok()) << log.dump();
    // Each item's last file landed before the next item's (content is
    // fetched and written item by item); finishing (links, metadata,
    // verification) then runs on two threads, in whatever order they get.
    ASSERT_EQ(log.done_order.size(), 5u);
    for (size_t i = 1; i < results.size(); ++i)
      EXPECT_LE(results[i - 1].restored_ns, results[i].restored_ns) << i;
    for (const auto& r : results) EXPECT_LE(r.restored_ns, r.finished_ns);
  }
}

TEST(BatchRestore, ADamagedItemFailsAloneAndTheOthersAreExact) {
  Node5 n;
  // acct1: its snapshot tree does not exist. acct3: one file needs a blob
  // the repository does not have.
  n.items[1].tree = n.t.repo->hash(text_bytes("no such tree"));
  Id missing = n.t.repo->hash(text_bytes("no such blob"));
  n.items[3].tree = n.t.snapshot({n.t.file("fine.txt", text_bytes("fine")),
                                  n.t.file_of("broken.bin", {ContentPart{missing, 1000}})});
  TempDir tmp;
  BatchLog log;
  auto results = run_batch(*n.t.repo, tmp.sub("home"), n.items, log.options());
  EXPECT_FALSE(results[1].ok());
  EXPECT_TRUE(results[1].failure);
  EXPECT_NE(results[1].failure_message.find("cannot be read"), std::string::npos)
      << results[1].failure_message;
  EXPECT_FALSE(results[3].ok());
  EXPECT_EQ(results[3].counts.errors, 1u);
  EXPECT_EQ(read_file(tmp.sub("home/acct3/fine.txt")), text_bytes("fine"));
  for (size_t i : {0u, 2u, 4u}) {
    EXPECT_TRUE(results[i].ok()) << i << "\n" << log.dump();
    EXPECT_EQ(read_file(tmp.sub("home/acct" + std::to_string(i) + "/own.bin")), n.own[i]);
  }
  EXPECT_EQ(log.done_order.size(), 5u);  // every item is reported, failed ones too
}

TEST(BatchRestore, KeptFilesAreNotRewrittenButVerificationStillReadsThem) {
  Node5 n;
  TempDir tmp;
  {
    BatchLog log;
    for (const auto& r : run_batch(*n.t.repo, tmp.sub("home"), n.items, log.options()))
      ASSERT_TRUE(r.ok()) << log.dump();
  }
  // acct2's own-link.bin (the first name of the hard-linked pair, which the
  // plan writes; own.bin is linked to it) is altered in place, keeping size
  // and mtime (a resumed restore cannot tell); acct4's is deleted.
  const std::string altered = tmp.sub("home/acct2/own-link.bin");
  struct stat before = lstat_of(altered);
  {
    int fd = open(altered.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "XXXX", 4, 100), 4);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(futimens(fd, times), 0);
    close(fd);
  }
  ASSERT_EQ(unlink(tmp.sub("home/acct4/own-link.bin").c_str()), 0);
  // acct1's is made private: a kept file's metadata is not applied again,
  // so verification must notice.
  ASSERT_EQ(chmod(tmp.sub("home/acct1/own-link.bin").c_str(), 0600), 0);

  BatchLog log;
  BatchOptions o = log.options();
  o.restore.keep_complete_files = true;
  auto results = run_batch(*n.t.repo, tmp.sub("home"), n.items, o);
  for (size_t i : {0u, 1u, 2u, 3u}) {
    EXPECT_EQ(results[i].counts.bytes, 0u) << i;  // nothing rewritten
    EXPECT_EQ(results[i].files_kept, 2u) << i;
  }
  EXPECT_TRUE(results[0].ok()) << log.dump();
  EXPECT_TRUE(results[3].ok()) << log.dump();
  EXPECT_EQ(results[1].mismatches, 1u);
  EXPECT_NE(log.dump().find("acct1/own-link.bin: differs from the snapshot after restore: mode 0600, snapshot 0644"),
            std::string::npos) << log.dump();
  EXPECT_EQ(lstat_of(altered).st_ino, before.st_ino);
  EXPECT_EQ(results[2].mismatches, 1u) << log.dump();  // caught by reading it back
  EXPECT_FALSE(results[2].ok());
  EXPECT_NE(log.dump().find("acct2/own-link.bin: differs from the snapshot"), std::string::npos)
      << log.dump();
  EXPECT_TRUE(results[4].ok()) << log.dump();
  EXPECT_EQ(results[4].counts.bytes, n.own[4].size());  // only the deleted file
  EXPECT_EQ(read_file(tmp.sub("home/acct4/own-link.bin")), n.own[4]);
  EXPECT_EQ(lstat_of(tmp.sub("home/acct4/own-link.bin")).st_ino,
            lstat_of(tmp.sub("home/acct4/own.bin")).st_ino);

  // Without keeping files, acct2 is rewritten and exact again.
  BatchLog again;
  std::vector<BatchItem> only2 = {n.items[2]};
  auto fixed = run_batch(*n.t.repo, tmp.sub("home"), only2, again.options());
  EXPECT_TRUE(fixed[0].ok()) << again.dump();
  EXPECT_EQ(read_file(altered), n.own[2]);
}

TEST(BatchRestore, RejectsBadItemNames) {
  Node5 n;
  TempDir tmp;
  for (std::string bad : {"", ".", "..", "a/b"}) {
    std::vector<BatchItem> items = {n.items[0], BatchItem{bad, n.items[1].tree}};
    EXPECT_THROW(run_batch(*n.t.repo, tmp.sub("x"), items, {}), Error) << bad;
  }
  std::vector<BatchItem> twice = {n.items[0], n.items[0]};
  EXPECT_THROW(run_batch(*n.t.repo, tmp.sub("x"), twice, {}), Error);
}

}  // namespace
}  // namespace lifeboat::restore::test
