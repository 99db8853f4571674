#include "fs/walk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "support/temp_dir.h"

namespace lifeboat::fs {
namespace {

TEST(ReadDirNames, SortedBytewiseWithoutDots) {
  test::TempDir dir;
  std::vector<std::string> names = {"b", "a", "\xff\xfe bad", "Z", "with\nnewline", ".hidden",
                                    "-dash", "\xc3\xa9", std::string(255, 'L')};
  for (const std::string& n : names) {
    int fd = open(dir.sub(n).c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  ASSERT_EQ(mkdir(dir.sub("subdir").c_str(), 0755), 0);
  names.push_back("subdir");
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end(), [](const std::string& x, const std::string& y) {
    return std::lexicographical_compare(
        x.begin(), x.end(), y.begin(), y.end(),
        [](char a, char b) { return static_cast<unsigned char>(a) < static_cast<unsigned char>(b); });
  });
  EXPECT_EQ(read_dir_names(dir.path()), want);
  EXPECT_EQ(want.back(), "\xff\xfe bad");
}

TEST(ReadDirNames, EmptyDirectory) {
  test::TempDir dir;
  EXPECT_TRUE(read_dir_names(dir.path()).empty());
}

TEST(ReadDirNames, ErrorsNameThePath) {
  test::TempDir dir;
  try {
    read_dir_names(dir.sub("missing"));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(dir.sub("missing")), std::string::npos);
  }
  int fd = open(dir.sub("file").c_str(), O_WRONLY | O_CREAT, 0644);
  close(fd);
  EXPECT_THROW(read_dir_names(dir.sub("file")), Error);
}

}  // namespace
}  // namespace lifeboat::fs
