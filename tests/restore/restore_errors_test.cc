// What goes wrong: missing and damaged content, unreachable packs, bad
// targets, a full disk, transient failures.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include "repo/index.h"
#include "restore/restorer.h"
#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

TEST(RestoreErrors, MissingBlobIsReportedPerFileAndTheRestContinues) {
  TestRepo t;
  Bytes ghost_data = random_bytes(1000);
  Id ghost = t.repo->hash(ghost_data);  // never stored
  Bytes good = random_bytes(70000);
  Node broken = t.file("broken", good, 30000);
  broken.content.insert(broken.content.begin() + 1, ContentPart{ghost, ghost_data.size()});
  broken.size += ghost_data.size();
  Node also = t.file_of("also_broken", {{ghost, ghost_data.size()}});
  Id snap = t.snapshot({broken, also, t.file("fine", good, 30000)});

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 2u) << errors.dump();
  EXPECT_EQ(r.files, 1u);
  EXPECT_TRUE(errors.mentions("/out/broken"));
  EXPECT_TRUE(errors.mentions("/out/also_broken"));
  EXPECT_NE(errors.dump().find(ghost.hex()), std::string::npos);
  EXPECT_EQ(read_file(tmp.sub("out/fine")), good);
  // The incomplete file has its size; the parts that did exist are in place.
  Bytes got = read_file(tmp.sub("out/broken"));
  ASSERT_EQ(got.size(), good.size() + ghost_data.size());
  EXPECT_TRUE(std::equal(good.begin(), good.begin() + 30000, got.begin()));
  EXPECT_TRUE(std::equal(good.begin() + 30000, good.end(), got.begin() + 31000));
  EXPECT_EQ(lstat_of(tmp.sub("out/also_broken")).st_size, 1000);
}

TEST(RestoreErrors, DamagedBlobIsReportedForEveryFileThatNeedsIt) {
  TestRepo t;
  Bytes bad = random_bytes(20000);
  Id bad_id = t.blob(bad);
  Bytes neighbour = random_bytes(20000);
  Id neighbour_id = t.blob(neighbour);
  t.repo->flush();
  Id snap = t.snapshot(
      {t.file_of("a", {{bad_id, bad.size()}}),
       t.dir("d", {t.file_of("c", {{neighbour_id, neighbour.size()}, {bad_id, bad.size()}})}),
       t.file_of("n", {{neighbour_id, neighbour.size()}}), t.file("b", random_bytes(10))});
  auto loc = t.repo->index().find(bad_id);
  ASSERT_TRUE(loc);
  Handle h{ObjectType::kData, loc->pack.hex()};
  Bytes raw = t.mem->load(h, 0, 0);
  raw[loc->entry.offset + 100] ^= 0x40;
  t.mem->corrupt(h, raw);

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 2u) << errors.dump();
  EXPECT_TRUE(errors.mentions("/out/a"));
  EXPECT_TRUE(errors.mentions("/out/d/c"));
  EXPECT_NE(errors.dump().find(loc->pack.hex()), std::string::npos) << errors.dump();
  EXPECT_EQ(read_file(tmp.sub("out/n")), neighbour);
  EXPECT_EQ(lstat_of(tmp.sub("out/b")).st_size, 10);
  EXPECT_EQ(lstat_of(tmp.sub("out/d/c")).st_size, 40000);
}

TEST(RestoreErrors, TruncatedPackLosesOnlyTheBlobsPastTheCut) {
  TestRepo t;
  std::vector<Bytes> data;
  std::vector<Node> files;
  for (int i = 0; i < 4; ++i) {
    data.push_back(random_bytes(30000));
    files.push_back(t.file("f" + std::to_string(i), data.back(), 1 << 20));
  }
  t.repo->flush();  // content in one pack, trees in another
  Id snap = t.snapshot(files);
  ASSERT_EQ(t.data_packs().size(), 2u);
  auto loc = t.repo->index().find(files[2].content[0].blob);
  ASSERT_TRUE(loc);
  Handle h{ObjectType::kData, loc->pack.hex()};
  Bytes raw = t.mem->load(h, 0, 0);
  raw.resize(loc->entry.offset + 10);  // the third blob (in pack order) is cut
  t.mem->corrupt(h, raw);

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  // Blobs at or after the cut are lost; the ones before it are restored.
  uint64_t lost = 0;
  for (int i = 0; i < 4; ++i) {
    auto l = t.repo->index().find(files[i].content[0].blob);
    bool cut = l->entry.offset >= loc->entry.offset;
    lost += cut;
    if (cut)
      EXPECT_TRUE(errors.mentions("/f" + std::to_string(i))) << i << errors.dump();
    else
      EXPECT_EQ(read_file(tmp.sub("out/f" + std::to_string(i))), data[i]) << i;
  }
  EXPECT_EQ(r.errors, lost);
  EXPECT_GE(lost, 1u);
  EXPECT_LE(lost, 3u);
}

TEST(RestoreErrors, TransientFailuresAreRetried) {
  TestRepo t;
  Bytes data = random_bytes(50000);
  Id snap = t.snapshot({t.file("f", data)});
  t.counting->fail_next = 2;
  TempDir tmp;
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), {});
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(read_file(tmp.sub("out/f")), data);
}

TEST(RestoreErrors, PersistentUnavailabilityIsReportedNotHung) {
  TestRepo t;
  Node f = t.file("f", random_bytes(100));
  t.repo->flush();
  Id snap = t.snapshot({f, t.file("g", random_bytes(100))});
  t.counting->unreachable_pack = t.repo->index().find(f.content[0].blob)->pack.hex();
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_TRUE(errors.mentions("/out/f"));
  EXPECT_EQ(lstat_of(tmp.sub("out/g")).st_size, 100);
}

TEST(RestoreErrors, TargetThatIsAFileIsRefusedNamingIt) {
  TestRepo t;
  Id snap = t.snapshot({t.file("f", random_bytes(100))});
  TempDir tmp;
  std::string file = tmp.sub("plainfile");
  int fd = open(file.c_str(), O_WRONLY | O_CREAT, 0644);
  close(fd);
  for (const std::string& target : {file, file + "/below"}) {
    try {
      run_restore(*t.repo, snap, target, {});
      FAIL() << "restored into " << target;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(target), std::string::npos) << e.message();
      EXPECT_EQ(e.message().find('\n'), std::string::npos);
    }
  }
}

TEST(RestoreErrors, UnreadableTopTreeThrows) {
  TestRepo t;
  t.snapshot({});
  Bytes x = random_bytes(10);
  TempDir tmp;
  try {
    run_restore(*t.repo, t.repo->hash(x), tmp.sub("out"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(RestoreErrors, UnreadableSubtreeIsReportedAndTheRestRestored) {
  TestRepo t;
  Node lost = TestRepo::meta("lost", NodeType::kDir, 0755, 0);
  Bytes x = random_bytes(10);
  lost.subtree = t.repo->hash(x);  // no such tree
  Id snap = t.snapshot({lost, t.file("fine", text_bytes("ok"))});
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_TRUE(errors.mentions("/out/lost"));
  EXPECT_TRUE(exists(tmp.sub("out/lost")));
  EXPECT_EQ(read_file(tmp.sub("out/fine")), text_bytes("ok"));
}

TEST(RestoreErrors, FullDiskStopsTheRestoreNamingTheFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir tmp;
  std::string mnt = tmp.sub("small");
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount tmpfs here";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};

  TestRepo t;
  std::vector<Node> files;
  for (int i = 0; i < 8; ++i)
    files.push_back(t.file("f" + std::to_string(i), random_bytes(200000)));
  Id snap = t.snapshot(files);
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  try {
    run_restore(*t.repo, snap, mnt + "/out", options);
    FAIL() << "a restore into a full disk succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNoSpace);
    EXPECT_NE(e.message().find(mnt + "/out/f"), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
  }
  EXPECT_LE(errors.list.size(), 1u) << errors.dump();
}

}  // namespace
}  // namespace lifeboat::restore::test
