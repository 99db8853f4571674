#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/error.h"
#include "fs/metadata.h"
#include "support/temp_dir.h"

namespace lifeboat::fs {
namespace {

using test::TempDir;

void touch(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  close(fd);
}

// Sets a user.* xattr; false if the filesystem does not support them.
bool set_user_xattr(const std::string& path, const std::string& name, const std::string& value) {
  if (lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) == 0) return true;
  if (errno == ENOTSUP || errno == EOPNOTSUPP) return false;
  ADD_FAILURE() << "setxattr " << name << " on " << path << ": " << std::strerror(errno);
  return false;
}

#define SET_OR_SKIP(path, name, value)                                                \
  if (!set_user_xattr(path, name, value)) {                                           \
    GTEST_SKIP() << "the filesystem of " << path << " does not support user xattrs"; \
  }

std::vector<repo::Xattr> user_only(std::vector<repo::Xattr> xs) {
  std::erase_if(xs, [](const repo::Xattr& x) { return x.name.rfind("user.", 0) != 0; });
  return xs;
}

TEST(ReadXattrs, BinaryValuesSortedByName) {
  TempDir dir;
  std::string p = dir.sub("f");
  touch(p);
  std::string binary;
  for (int i = 255; i >= 0; --i) binary += static_cast<char>(i);
  SET_OR_SKIP(p, "user.zeta", binary);
  SET_OR_SKIP(p, "user.alpha", std::string("\0\0\xff", 3));
  SET_OR_SKIP(p, "user.empty", "");
  SET_OR_SKIP(p, "user.big", std::string(2000, '\x9c'));
  std::vector<repo::Xattr> want = {{"user.alpha", std::string("\0\0\xff", 3)},
                                   {"user.big", std::string(2000, '\x9c')},
                                   {"user.empty", ""},
                                   {"user.zeta", binary}};
  EXPECT_EQ(user_only(read_xattrs(p)), want);
}

TEST(ReadXattrs, NoneIsEmpty) {
  TempDir dir;
  touch(dir.sub("f"));
  EXPECT_TRUE(user_only(read_xattrs(dir.sub("f"))).empty());
}

TEST(ReadXattrs, DirectoryAndCaptureNode) {
  TempDir dir;
  std::string d = dir.sub("d");
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  SET_OR_SKIP(d, "user.dir", std::string("\x00\xff\x01", 3));
  struct stat st;
  ASSERT_EQ(lstat(d.c_str(), &st), 0);
  repo::Node n = capture_node(d, st);
  std::vector<repo::Xattr> want = {{"user.dir", std::string("\x00\xff\x01", 3)}};
  EXPECT_EQ(user_only(n.xattrs), want);
}

TEST(ReadXattrs, DoesNotFollowSymlinks) {
  TempDir dir;
  std::string target = dir.sub("target");
  touch(target);
  SET_OR_SKIP(target, "user.on_target", "x");
  ASSERT_EQ(symlink("target", dir.sub("link").c_str()), 0);
  EXPECT_TRUE(user_only(read_xattrs(dir.sub("link"))).empty());
  struct stat st;
  ASSERT_EQ(lstat(dir.sub("link").c_str(), &st), 0);
  EXPECT_TRUE(user_only(capture_node(dir.sub("link"), st).xattrs).empty());
}

TEST(ReadXattrs, MissingPathThrowsNamingIt) {
  TempDir dir;
  try {
    read_xattrs(dir.sub("missing"));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(dir.sub("missing")), std::string::npos);
  }
}

TEST(ApplyMetadata, XattrsRoundTrip) {
  TempDir dir;
  std::string src = dir.sub("src"), dst = dir.sub("dst"), dst_fd = dir.sub("dst_fd");
  touch(src);
  touch(dst);
  touch(dst_fd);
  std::string binary("\x00\x01\x02\xfe\xff", 5);
  SET_OR_SKIP(src, "user.one", binary);
  SET_OR_SKIP(src, "user.two", "");
  struct stat st;
  ASSERT_EQ(lstat(src.c_str(), &st), 0);
  repo::Node n = capture_node(src, st);
  apply_metadata(dst, n, {.restore_owner = false});
  EXPECT_EQ(user_only(read_xattrs(dst)), user_only(n.xattrs));

  int fd = open(dst_fd.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  apply_metadata_fd(fd, dst_fd, n, {.restore_owner = false});
  close(fd);
  EXPECT_EQ(user_only(read_xattrs(dst_fd)), user_only(n.xattrs));

  // restore_xattrs = false leaves them off.
  std::string plain = dir.sub("plain");
  touch(plain);
  apply_metadata(plain, n, {.restore_owner = false, .restore_xattrs = false});
  EXPECT_TRUE(user_only(read_xattrs(plain)).empty());
}

}  // namespace
}  // namespace lifeboat::fs
