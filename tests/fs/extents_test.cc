#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "fs/metadata.h"
#include "support/temp_dir.h"

namespace lifeboat::fs {
namespace {

using test::TempDir;
constexpr uint64_t kMiB = 1 << 20;

class SparseFile {
 public:
  SparseFile(const std::string& path, uint64_t size) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(ftruncate(fd_, static_cast<off_t>(size)), 0);
  }
  ~SparseFile() { close(fd_); }
  void write_at(uint64_t offset, size_t len) {
    std::string data(len, '\x5a');
    EXPECT_EQ(pwrite(fd_, data.data(), len, static_cast<off_t>(offset)),
              static_cast<ssize_t>(len));
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// True if [offset, offset+len) lies inside an extent that does not reach
// more than `slack` bytes beyond it on either side (filesystems round to
// their block size).
::testing::AssertionResult covers(const Extent& e, uint64_t offset, uint64_t len,
                                  uint64_t slack = 64 * 1024) {
  if (e.offset <= offset && e.offset + e.length >= offset + len && offset - e.offset <= slack &&
      e.offset + e.length - (offset + len) <= slack) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "extent {" << e.offset << ", " << e.length << "} vs data {" << offset << ", " << len
         << "}";
}

TEST(DataExtents, HolesAtStartMiddleAndEnd) {
  TempDir dir;
  SparseFile f(dir.sub("sparse"), 8 * kMiB);
  f.write_at(1 * kMiB, 4096);
  f.write_at(5 * kMiB, 8192);
  ASSERT_EQ(fsync(f.fd()), 0);
  std::vector<Extent> ex = data_extents(f.fd(), 8 * kMiB);
  if (ex.size() == 1 && ex[0].offset == 0 && ex[0].length == 8 * kMiB) {
    GTEST_SKIP() << "this filesystem does not report holes (SEEK_HOLE)";
  }
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_TRUE(covers(ex[0], 1 * kMiB, 4096));
  EXPECT_TRUE(covers(ex[1], 5 * kMiB, 8192));
}

TEST(DataExtents, FindsUnsyncedData) {
  TempDir dir;
  SparseFile f(dir.sub("sparse"), 4 * kMiB);
  f.write_at(2 * kMiB, 100);
  std::vector<Extent> ex = data_extents(f.fd(), 4 * kMiB);
  ASSERT_FALSE(ex.empty());
  bool found = false;
  for (const Extent& e : ex) found |= e.offset <= 2 * kMiB && e.offset + e.length >= 2 * kMiB + 100;
  EXPECT_TRUE(found);
}

TEST(DataExtents, DenseFileIsOneExtent) {
  TempDir dir;
  SparseFile f(dir.sub("dense"), 0);
  f.write_at(0, 100000);
  std::vector<Extent> ex = data_extents(f.fd(), 100000);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].offset, 0u);
  EXPECT_EQ(ex[0].length, 100000u);
}

TEST(DataExtents, FullySparseAndEmptyFilesHaveNone) {
  TempDir dir;
  SparseFile hole(dir.sub("hole"), 3 * kMiB);
  std::vector<Extent> ex = data_extents(hole.fd(), 3 * kMiB);
  if (ex.size() == 1 && ex[0].length == 3 * kMiB) GTEST_SKIP() << "no SEEK_HOLE support here";
  EXPECT_TRUE(ex.empty());
  SparseFile empty(dir.sub("empty"), 0);
  EXPECT_TRUE(data_extents(empty.fd(), 0).empty());
}

TEST(DataExtents, DataAtTheUnalignedEndIsClippedToSize) {
  TempDir dir;
  uint64_t size = 2 * kMiB + 777;
  SparseFile f(dir.sub("tail"), size);
  f.write_at(size - 100, 100);
  std::vector<Extent> ex = data_extents(f.fd(), size);
  ASSERT_FALSE(ex.empty());
  EXPECT_EQ(ex.back().offset + ex.back().length, size);
  EXPECT_GT(ex.front().offset, 0u);  // the start is a hole
}

TEST(DataExtents, ClipsToTheGivenSize) {
  TempDir dir;
  SparseFile f(dir.sub("grown"), 0);
  f.write_at(0, 10000);
  std::vector<Extent> ex = data_extents(f.fd(), 5000);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].offset, 0u);
  EXPECT_EQ(ex[0].length, 5000u);
  // The file shrank below `size`: the missing tail is not data.
  ex = data_extents(f.fd(), 20000);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_LE(ex[0].offset + ex[0].length, 20000u);
  EXPECT_GE(ex[0].length, 10000u);
}

}  // namespace
}  // namespace lifeboat::fs
