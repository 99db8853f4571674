// Checks the test-support library itself: a fidelity tree copied with
// `cp -a` compares identical, and each single mutation is reported.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>

#include "fs/metadata.h"
#include "support/fidelity_tree.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat::test {
namespace {

namespace fp = fidelity_paths;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += "  " + l + "\n";
  return out;
}

void copy_tree(const std::string& from, const std::string& to) {
  std::string cmd = "cp -a '" + from + "' '" + to + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

bool is_root() { return geteuid() == 0; }

// Runs `mutate`, then puts back the times of `paths` (the mutated entry and
// its directory), so only the intended difference remains.
void keeping_times(const std::vector<std::string>& paths, const std::function<void()>& mutate) {
  std::vector<struct stat> saved(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) ASSERT_EQ(lstat(paths[i].c_str(), &saved[i]), 0);
  mutate();
  for (size_t i = 0; i < paths.size(); ++i) {
    struct timespec ts[2] = {saved[i].st_atim, saved[i].st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, paths[i].c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << paths[i];
  }
}

void pwrite_or_fail(const std::string& path, uint64_t offset, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(data.size()));
  close(fd);
}

class SupportSelfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("lifeboat-fidelity");
    make_fidelity_tree(expected(), 42);
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::string expected() { return dir_->sub("expected"); }

  void SetUp() override {
    work_ = std::make_unique<TempDir>("lifeboat-copy");
    actual_ = work_->sub("actual");
    copy_tree(expected(), actual_);
  }

  std::string in_actual(std::string_view rel) const { return actual_ + "/" + std::string(rel); }
  std::string parent_in_actual(std::string_view rel) const {
    std::string p = in_actual(rel);
    return p.substr(0, p.rfind('/'));
  }
  std::vector<std::string> diffs() const { return compare_trees(expected(), actual_); }

  // Exactly one difference, about `rel`, containing `words`.
  void expect_one(std::string_view rel, std::string_view words) {
    std::vector<std::string> d = diffs();
    ASSERT_EQ(d.size(), 1u) << join_lines(d);
    EXPECT_EQ(d[0].rfind(printable(rel) + ": ", 0), 0u) << d[0];
    EXPECT_NE(d[0].find(words), std::string::npos) << d[0];
  }

  static std::unique_ptr<TempDir> dir_;
  std::unique_ptr<TempDir> work_;
  std::string actual_;
};

std::unique_ptr<TempDir> SupportSelfTest::dir_;

TEST_F(SupportSelfTest, TreeHasEveryFidelityPoint) {
  struct stat st;
  ASSERT_EQ(lstat((expected() + "/" + fp::kSparse).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the sparse file is not sparse";
  ASSERT_EQ(lstat((expected() + "/" + fp::kSetuid).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(lstat((expected() + "/" + fp::kTriple3).c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 3u);
  ASSERT_EQ(lstat((expected() + "/" + fp::kOld1999).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 929450096);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  ASSERT_EQ(lstat((expected() + "/" + fp::kBadUtf8Name).c_str(), &st), 0);
  ASSERT_EQ(lstat((expected() + "/" + fp::kFifo).c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(lstat((expected() + "/deep/d01/d02/d03/d04/d05/d06/d07/d08/d09/d10/d11/d12/d13/d14/"
                                "d15/d16/d17/d18/d19/d20/d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/"
                                "d31/d32/d33/d34/d35/d36/d37/d38/d39/d40/leaf.txt")
                      .c_str(),
                  &st),
            0);
  if (is_root()) {
    ASSERT_EQ(lstat((expected() + "/" + fp::kOwned1001).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1001u);
    EXPECT_EQ(st.st_gid, 1002u);
    ASSERT_EQ(lstat((expected() + "/" + fp::kCharDevice).c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
}

TEST_F(SupportSelfTest, CopyComparesIdentical) {
  std::vector<std::string> d = diffs();
  EXPECT_TRUE(d.empty()) << join_lines(d);
}

TEST_F(SupportSelfTest, SameSeedSameTreeOtherSeedDifferent) {
  make_fidelity_tree(work_->sub("again"), 42);
  std::vector<std::string> d = compare_trees(expected(), work_->sub("again"));
  EXPECT_TRUE(d.empty()) << join_lines(d);
  make_fidelity_tree(work_->sub("other"), 43);
  EXPECT_FALSE(compare_trees(expected(), work_->sub("other")).empty());
}

TEST_F(SupportSelfTest, ReportsAChangedByte) {
  std::string orig(1, '\0');
  int fd = open((expected() + "/" + fp::kMibPlus17).c_str(), O_RDONLY);
  ASSERT_EQ(pread(fd, orig.data(), 1, (1 << 20) + 3), 1);
  close(fd);
  orig[0] = static_cast<char>(orig[0] ^ 0x40);
  keeping_times({in_actual(fp::kMibPlus17)},
                [&] { pwrite_or_fail(in_actual(fp::kMibPlus17), (1 << 20) + 3, orig); });
  expect_one(fp::kMibPlus17, "content differs at byte 1048579");
}

TEST_F(SupportSelfTest, ReportsAChangedMode) {
  ASSERT_EQ(chmod(in_actual(fp::kMode0600).c_str(), 0640), 0);
  expect_one(fp::kMode0600, "mode differs: expected 0600, actual 0640");
}

TEST_F(SupportSelfTest, ReportsLostSetuid) {
  ASSERT_EQ(chmod(in_actual(fp::kSetuid).c_str(), 0755), 0);
  expect_one(fp::kSetuid, "mode differs: expected 4755, actual 0755");
}

TEST_F(SupportSelfTest, ReportsAnMtimeOffByOneNanosecond) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {929450096, 123456788}};
  ASSERT_EQ(utimensat(AT_FDCWD, in_actual(fp::kOld1999).c_str(), ts, 0), 0);
  expect_one(fp::kOld1999, "mtime differs: expected 929450096.123456789, actual 929450096.123456788");
}

TEST_F(SupportSelfTest, ReportsADirectoryMtime) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, in_actual("empty/nested").c_str(), ts, 0), 0);
  expect_one("empty/nested", "mtime differs");
}

TEST_F(SupportSelfTest, ReportsABrokenHardLink) {
  std::string b = in_actual(fp::kPairB);
  keeping_times({parent_in_actual(fp::kPairB)}, [&] {
    std::string tmp = b + ".tmp";
    ASSERT_EQ(std::system(("cp -p '" + b + "' '" + tmp + "'").c_str()), 0);
    ASSERT_EQ(rename(tmp.c_str(), b.c_str()), 0);
  });
  expect_one(fp::kPairB, "hard link broken");
}

TEST_F(SupportSelfTest, ReportsABrokenLinkInATripleAcrossDirectories) {
  std::string t = in_actual(fp::kTriple2);
  keeping_times({parent_in_actual(fp::kTriple2)}, [&] {
    std::string tmp = t + ".tmp";
    ASSERT_EQ(std::system(("cp -p '" + t + "' '" + tmp + "'").c_str()), 0);
    ASSERT_EQ(rename(tmp.c_str(), t.c_str()), 0);
  });
  std::vector<std::string> d = diffs();
  ASSERT_FALSE(d.empty());
  EXPECT_NE(join_lines(d).find("hard link broken"), std::string::npos) << join_lines(d);
}

TEST_F(SupportSelfTest, ReportsAnExtraHardLink) {
  std::string a = in_actual("dup/a/shared.bin"), b = in_actual("dup/b/shared.bin");
  keeping_times({parent_in_actual("dup/b/shared.bin")}, [&] {
    ASSERT_EQ(unlink(b.c_str()), 0);
    ASSERT_EQ(link(a.c_str(), b.c_str()), 0);
  });
  std::vector<std::string> d = diffs();
  EXPECT_NE(join_lines(d).find("dup/b/shared.bin: is a hard link to dup/a/shared.bin in actual"),
            std::string::npos)
      << join_lines(d);
}

TEST_F(SupportSelfTest, ReportsAFilledHole) {
  // Zeros written into the middle hole: same bytes, but holes became data.
  std::string p = in_actual(fp::kSparse);
  keeping_times({p}, [&] { pwrite_or_fail(p, 20 << 20, std::string(4 << 20, '\0')); });
  expect_one(fp::kSparse, "holes became data");
}

TEST_F(SupportSelfTest, ReportsDataWrittenIntoAHole) {
  std::string p = in_actual(fp::kSparse);
  keeping_times({p}, [&] { pwrite_or_fail(p, (40 << 20) + 5, "x"); });
  expect_one(fp::kSparse, fmt::format("content differs at byte {}", (40 << 20) + 5));
}

TEST_F(SupportSelfTest, ReportsAChangedXattr) {
  if (fs::read_xattrs(expected() + "/" + fp::kXattrFile).empty()) {
    GTEST_SKIP() << "the filesystem under the temporary directory has no user xattrs";
  }
  std::string p = in_actual(fp::kXattrFile);
  ASSERT_EQ(lsetxattr(p.c_str(), "user.binary", "\x00\x01", 2, 0), 0);
  expect_one(fp::kXattrFile, "xattr user.binary differs");
  ASSERT_EQ(lremovexattr(p.c_str(), "user.binary"), 0);
  expect_one(fp::kXattrFile, "xattr user.binary missing in actual");
  std::string d = in_actual(fp::kXattrDir);
  ASSERT_EQ(lsetxattr(d.c_str(), "user.extra", "", 0, 0), 0);
  std::vector<std::string> all = diffs();
  EXPECT_EQ(all.size(), 2u) << join_lines(all);
  EXPECT_NE(join_lines(all).find("xattrs/dir: xattr user.extra only in actual"), std::string::npos)
      << join_lines(all);
}

TEST_F(SupportSelfTest, ReportsANameDifferingInOneByte) {
  std::string from = in_actual(fp::kBadUtf8Name);
  std::string to = in_actual("names/\xff\xfd bad");
  keeping_times({parent_in_actual(fp::kBadUtf8Name)},
                [&] { ASSERT_EQ(rename(from.c_str(), to.c_str()), 0); });
  std::vector<std::string> d = diffs();
  ASSERT_EQ(d.size(), 2u) << join_lines(d);
  EXPECT_EQ(d[0], "names/\\xff\\xfd bad: only in actual");
  EXPECT_EQ(d[1], "names/\\xff\\xfe bad: only in expected");
}

TEST_F(SupportSelfTest, ReportsAnExtraFileInAnEmptyDirectory) {
  std::string p = in_actual("empty/nested/deeper/new");
  keeping_times({parent_in_actual("empty/nested/deeper/new")}, [&] {
    int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
  });
  expect_one("empty/nested/deeper/new", "only in actual");
}

TEST_F(SupportSelfTest, ReportsAChangedSymlinkTarget) {
  std::string p = in_actual(fp::kBadUtf8Link);
  keeping_times({p.substr(0, p.rfind('/'))}, [&] {
    ASSERT_EQ(unlink(p.c_str()), 0);
    ASSERT_EQ(symlink("\xff\xfe\x80 not utf-8 \xc4", p.c_str()), 0);
  });
  struct stat st;
  ASSERT_EQ(lstat((expected() + "/" + fp::kBadUtf8Link).c_str(), &st), 0);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  expect_one(fp::kBadUtf8Link, "symlink target differs");
}

TEST_F(SupportSelfTest, ReportsAChangedType) {
  std::string p = in_actual(fp::kFifo);
  keeping_times({p.substr(0, p.rfind('/'))}, [&] {
    ASSERT_EQ(unlink(p.c_str()), 0);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0640);
    ASSERT_GE(fd, 0);
    close(fd);
  });
  expect_one(fp::kFifo, "type differs: expected fifo, actual regular file");
}

TEST_F(SupportSelfTest, ReportsOwnersAndDevicesAsRoot) {
  if (!is_root()) GTEST_SKIP() << "the tree has foreign owners and devices only as root";
  ASSERT_EQ(lchown(in_actual(fp::kOwned1001).c_str(), 1003, 1002), 0);
  expect_one(fp::kOwned1001, "owner differs: expected 1001:1002, actual 1003:1002");
  CompareOptions no_owners;
  no_owners.owners = false;
  EXPECT_TRUE(compare_trees(expected(), actual_, no_owners).empty());
  ASSERT_EQ(lchown(in_actual(fp::kOwned1001).c_str(), 1001, 1002), 0);

  std::string dev = in_actual(fp::kCharDevice);
  keeping_times({dev.substr(0, dev.rfind('/'))}, [&] {
    struct stat st;
    ASSERT_EQ(lstat(dev.c_str(), &st), 0);
    ASSERT_EQ(unlink(dev.c_str()), 0);
    ASSERT_EQ(mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);
    ASSERT_EQ(chmod(dev.c_str(), st.st_mode & 07777), 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, dev.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
  });
  expect_one(fp::kCharDevice, "device number differs: expected 1:3, actual 1:5");
}

TEST_F(SupportSelfTest, StopsAfterMaxDifferences) {
  CompareOptions opts;
  opts.max_differences = 3;
  std::vector<std::string> d = compare_trees(expected(), work_->path(), opts);
  ASSERT_EQ(d.size(), 4u) << join_lines(d);
  EXPECT_NE(d[3].find("stopped after 3"), std::string::npos);
}

// The 10 GiB sparse case: generating, copying and comparing stay fast
// because only data extents are ever read.
TEST(SupportSelfTestHuge, TenGibSparseFileComparesQuickly) {
  TempDir dir("lifeboat-huge");
  FidelityOptions opts;
  opts.big_sparse_bytes = 10ull << 30;
  opts.big_random_file = false;
  auto start = std::chrono::steady_clock::now();
  make_fidelity_tree(dir.sub("expected"), 7, opts);
  struct stat st;
  ASSERT_EQ(lstat(dir.sub("expected/sparse/holes.bin").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 10ull << 30);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  copy_tree(dir.sub("expected"), dir.sub("actual"));
  std::vector<std::string> d = compare_trees(dir.sub("expected"), dir.sub("actual"));
  EXPECT_TRUE(d.empty()) << join_lines(d);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
}

}  // namespace
}  // namespace lifeboat::test
