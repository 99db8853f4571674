#include "restore/file_table.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

TEST(FileTable, BoundsOpenFilesAndReopensWithoutTruncating) {
  TempDir tmp;
  RestoreOptions options;
  Reporter reporter(options);
  DirTable dirs(tmp.path());
  DirFds fds(dirs, open(tmp.path().c_str(), O_PATH | O_DIRECTORY), 4);
  std::vector<PlannedFile> planned;
  const int n = 10;
  for (int i = 0; i < n; ++i) {
    PlannedFile f;
    f.name = "f" + std::to_string(i);
    f.meta = FileMeta::of(TestRepo::meta("", NodeType::kFile, 0640, 1'000'000'000 * kSec + i));
    f.meta.size = 8;
    f.sparse = true;
    planned.push_back(f);
  }
  FileTable table(planned, dirs, fds, reporter, fs::ApplyOptions{false, true}, 3);
  for (int i = 0; i < n; ++i) table.expect_parts(i, 2);
  Bytes first = text_bytes("abcd"), second = text_bytes("efgh");
  for (int i = 0; i < n; ++i) table.write_part(i, 0, first, false);
  EXPECT_LE(table.open_files(), 3u);
  for (int i = 0; i < n; ++i) table.write_part(i, 4, second, false);
  EXPECT_LE(table.max_open_seen(), 3u);
  EXPECT_EQ(table.open_files(), 0u);
  EXPECT_EQ(reporter.errors.load(), 0u);
  for (int i = 0; i < n; ++i) {
    std::string p = tmp.sub("f" + std::to_string(i));
    EXPECT_EQ(read_file(p), text_bytes("abcdefgh"));
    struct stat st = lstat_of(p);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(mtime_ns(st), 1'000'000'000 * kSec + i);
  }
}

TEST(FileTable, AllZeroPartsOfSparseFilesAreNotWritten) {
  TempDir tmp;
  RestoreOptions options;
  Reporter reporter(options);
  DirTable dirs(tmp.path());
  DirFds fds(dirs, open(tmp.path().c_str(), O_PATH | O_DIRECTORY), 4);
  PlannedFile f;
  f.name = "z";
  f.meta = FileMeta::of(TestRepo::meta("", NodeType::kFile, 0600, 0));
  f.meta.size = 8 << 20;
  f.sparse = true;
  FileTable table({f}, dirs, fds, reporter, fs::ApplyOptions{false, true}, 3);
  table.expect_parts(0, 8);
  Bytes zeros(1 << 20, 0);
  for (int i = 0; i < 8; ++i) table.write_part(0, uint64_t(i) << 20, zeros, all_zero(zeros));
  struct stat st = lstat_of(tmp.sub("z"));
  EXPECT_EQ(st.st_size, 8 << 20);
  EXPECT_EQ(st.st_blocks, 0);
  EXPECT_TRUE(all_zero(zeros));
  zeros.back() = 1;
  EXPECT_FALSE(all_zero(zeros));
}

}  // namespace
}  // namespace lifeboat::restore::test
