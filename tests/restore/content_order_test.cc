// The order in which a batch's content lands: what a node restore's "most
// accounts online soonest" rests on.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mutex>

#include "restore/content.h"
#include "restore/content_pass.h"
#include "restore/snapshot_builder.h"

namespace lifeboat::restore::test {
namespace {

// Three "accounts" (ranks 0, 1, 2) of 40 files each, the same 40 small
// blobs in each (a CMS core): all of it sits in one ranged read. The first
// account's files must all be complete before the second's first one, so
// accounts become ready one after another, not all together when the
// range's last blob is written.
TEST(ContentOrder, SharedContentIsWrittenAccountByAccount) {
  TestRepo t;
  std::vector<Id> core;
  for (int i = 0; i < 40; ++i) core.push_back(t.blob(random_bytes(3000 + i)));
  t.repo->flush();

  ContentPass p;
  for (uint32_t account = 0; account < 3; ++account)
    for (uint32_t i = 0; i < 40; ++i)
      p.add("a" + std::to_string(account) + "-" + std::to_string(i), core[i], 3000 + i, account);
  FileTable table(p.planned, p.dirs, p.fds, p.reporter, fs::ApplyOptions{false, true}, 100);
  std::mutex mu;
  std::vector<uint32_t> completed;
  table.set_on_complete([&](uint32_t f) {
    std::lock_guard lock(mu);
    completed.push_back(f);
  });
  ContentOptions co;
  co.fetch_threads = 1;
  co.worker_threads = 1;
  ContentRestorer content(*t.repo, table, p.reporter, co);
  content.plan(p.refs, &p.rank);
  ASSERT_EQ(content.stats().ranges, 1u);
  content.run([] {});
  ASSERT_EQ(completed.size(), 120u);
  EXPECT_EQ(p.reporter.errors.load(), 0u);
  for (size_t k = 0; k < completed.size(); ++k)
    EXPECT_EQ(p.rank[completed[k]], k / 40) << "completion " << k << " was file " << completed[k];
  for (uint32_t f = 0; f < 120; ++f) {
    Bytes got = read_file(p.tmp.sub(p.planned[f].name));
    EXPECT_EQ(t.repo->hash(got), core[f % 40]) << p.planned[f].name;
  }
}

// Blobs of a later rank that lie between two blobs of an earlier one in a
// pack are read with them and written then: no byte is fetched twice.
TEST(ContentOrder, LaterBlobsInsideARangeAreNotFetchedAgain) {
  TestRepo t;
  // Interleaved in the pack: a0 b0 a1 b1 a2 b2 ...
  std::vector<Id> a, b;
  for (int i = 0; i < 20; ++i) {
    a.push_back(t.blob(random_bytes(5000)));
    b.push_back(t.blob(random_bytes(5000)));
  }
  t.repo->flush();
  t.counting->reset();

  ContentPass p;
  for (uint32_t account = 0; account < 2; ++account)
    for (uint32_t i = 0; i < 20; ++i)
      p.add("f" + std::to_string(account) + "-" + std::to_string(i), (account == 0 ? a : b)[i],
            5000, account);
  FileTable table(p.planned, p.dirs, p.fds, p.reporter, fs::ApplyOptions{false, true}, 100);
  ContentRestorer content(*t.repo, table, p.reporter, ContentOptions{});
  content.plan(p.refs, &p.rank);
  content.run([] {});
  EXPECT_EQ(p.reporter.errors.load(), 0u);
  // One range a0..a19 (with b0..b18 inside it), one for b19 after it.
  EXPECT_EQ(content.stats().ranges, 2u);
  EXPECT_LE(content.stats().bytes_read, t.data_pack_bytes());
  for (uint32_t f = 0; f < 40; ++f)
    EXPECT_EQ(t.repo->hash(read_file(p.tmp.sub(p.planned[f].name))), (f < 20 ? a : b)[f % 20]);
}

}  // namespace
}  // namespace lifeboat::restore::test
