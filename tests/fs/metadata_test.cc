#include "fs/metadata.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/error.h"
#include "support/temp_dir.h"

namespace lifeboat::fs {
namespace {

using test::TempDir;
constexpr int64_t kSec = 1'000'000'000;

void write_file(const std::string& path, std::string_view data, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

struct stat lstat_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

repo::Node capture(const std::string& path) { return capture_node(path, lstat_of(path)); }

void set_times(const std::string& path, int64_t atime_ns, int64_t mtime_ns) {
  struct timespec ts[2] = {{static_cast<time_t>(atime_ns / kSec), static_cast<long>(atime_ns % kSec)},
                           {static_cast<time_t>(mtime_ns / kSec), static_cast<long>(mtime_ns % kSec)}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
}

bool is_root() { return geteuid() == 0; }

TEST(CaptureNode, RegularFile) {
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "hello", 0640);
  set_times(p, 1000 * kSec + 5, 929450096 * kSec + 123456789);
  struct stat st = lstat_of(p);
  repo::Node n = capture_node(p, st);
  EXPECT_EQ(n.type, repo::NodeType::kFile);
  EXPECT_EQ(n.mode, 0640u);
  EXPECT_EQ(n.size, 5u);
  EXPECT_EQ(n.uid, geteuid());
  EXPECT_EQ(n.gid, getegid());
  EXPECT_EQ(n.mtime_ns, 929450096 * kSec + 123456789);
  EXPECT_EQ(n.atime_ns, 1000 * kSec + 5);
  EXPECT_EQ(n.ctime_ns, st.st_ctim.tv_sec * kSec + st.st_ctim.tv_nsec);
  EXPECT_EQ(n.inode, st.st_ino);
  EXPECT_EQ(n.device, st.st_dev);
  EXPECT_EQ(n.links, 1u);
  EXPECT_EQ(n.rdev, 0u);
  EXPECT_TRUE(n.symlink_target.empty());
  EXPECT_TRUE(n.name.empty());
  EXPECT_TRUE(n.content.empty());
  if (is_root()) {
    EXPECT_EQ(n.user, "root");
    EXPECT_EQ(n.group, "root");
  }
}

TEST(CaptureNode, DirectoryHasNoSizeAndKeepsSpecialBits) {
  TempDir dir;
  std::string p = dir.sub("d");
  ASSERT_EQ(mkdir(p.c_str(), 0700), 0);
  ASSERT_EQ(chmod(p.c_str(), 03775), 0);
  write_file(p + "/child", std::string(10000, 'x'));
  repo::Node n = capture(p);
  EXPECT_EQ(n.type, repo::NodeType::kDir);
  EXPECT_EQ(n.mode, 03775u);
  EXPECT_EQ(n.size, 0u);
}

TEST(CaptureNode, SymlinkWithNonUtf8AndLongTargets) {
  TempDir dir;
  const std::string target = "\xff\xfe/not utf-8/\x80\x01";
  ASSERT_EQ(symlink(target.c_str(), dir.sub("l").c_str()), 0);
  repo::Node n = capture(dir.sub("l"));
  EXPECT_EQ(n.type, repo::NodeType::kSymlink);
  EXPECT_EQ(n.symlink_target, target);
  EXPECT_EQ(n.size, 0u);

  std::string long_target(4000, 'a');
  for (size_t i = 100; i < long_target.size(); i += 100) long_target[i] = '/';
  ASSERT_EQ(symlink(long_target.c_str(), dir.sub("long").c_str()), 0);
  EXPECT_EQ(capture(dir.sub("long")).symlink_target, long_target);
}

TEST(CaptureNode, FifoSocketAndHardLinks) {
  TempDir dir;
  ASSERT_EQ(mkfifo(dir.sub("fifo").c_str(), 0640), 0);
  EXPECT_EQ(capture(dir.sub("fifo")).type, repo::NodeType::kFifo);
  ASSERT_EQ(mknod(dir.sub("sock").c_str(), S_IFSOCK | 0600, 0), 0);
  EXPECT_EQ(capture(dir.sub("sock")).type, repo::NodeType::kSocket);

  write_file(dir.sub("a"), "shared");
  ASSERT_EQ(link(dir.sub("a").c_str(), dir.sub("b").c_str()), 0);
  repo::Node a = capture(dir.sub("a")), b = capture(dir.sub("b"));
  EXPECT_EQ(a.links, 2u);
  EXPECT_EQ(a.inode, b.inode);
  EXPECT_EQ(a.device, b.device);
}

TEST(CaptureNode, Devices) {
  if (!is_root()) GTEST_SKIP() << "mknod of devices needs root";
  TempDir dir;
  ASSERT_EQ(mknod(dir.sub("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(mknod(dir.sub("blk").c_str(), S_IFBLK | 0660, makedev(7, 200)), 0);
  repo::Node c = capture(dir.sub("null")), b = capture(dir.sub("blk"));
  EXPECT_EQ(c.type, repo::NodeType::kCharDevice);
  EXPECT_EQ(c.rdev, makedev(1, 3));
  EXPECT_EQ(c.size, 0u);
  EXPECT_EQ(b.type, repo::NodeType::kBlockDevice);
  EXPECT_EQ(b.rdev, makedev(7, 200));
}

TEST(CaptureNode, UnknownOwnerHasEmptyNames) {
  if (!is_root()) GTEST_SKIP() << "chown to another uid needs root";
  TempDir dir;
  write_file(dir.sub("f"), "x");
  ASSERT_EQ(chown(dir.sub("f").c_str(), 54321, 54322), 0);
  repo::Node n = capture(dir.sub("f"));
  EXPECT_EQ(n.uid, 54321u);
  EXPECT_EQ(n.gid, 54322u);
  EXPECT_EQ(n.user, "");
  EXPECT_EQ(n.group, "");
}

TEST(CaptureNode, VanishedSymlinkThrowsNamingPath) {
  TempDir dir;
  std::string p = dir.sub("gone");
  ASSERT_EQ(symlink("x", p.c_str()), 0);
  struct stat st = lstat_of(p);
  ASSERT_EQ(unlink(p.c_str()), 0);
  try {
    capture_node(p, st);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(CaptureNode, ManyThreadsShareTheOwnerCache) {
  TempDir dir;
  for (int i = 0; i < 20; ++i) write_file(dir.sub(std::to_string(i)), "x");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 20; ++i) {
          std::string p = dir.sub(std::to_string(i));
          struct stat st;
          if (lstat(p.c_str(), &st) != 0) ++failures;
          repo::Node n = capture_node(p, st);
          if (n.uid != geteuid() || n.size != 1) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- create_special ---

TEST(CreateSpecial, SymlinkWithNonUtf8Target) {
  TempDir dir;
  repo::Node n;
  n.type = repo::NodeType::kSymlink;
  n.symlink_target = "\xff\xfe dangling \x80";
  create_special(dir.sub("l"), n);
  EXPECT_EQ(capture(dir.sub("l")).symlink_target, n.symlink_target);
}

TEST(CreateSpecial, FifoAndSocket) {
  TempDir dir;
  repo::Node n;
  n.type = repo::NodeType::kFifo;
  create_special(dir.sub("fifo"), n);
  EXPECT_TRUE(S_ISFIFO(lstat_of(dir.sub("fifo")).st_mode));
  n.type = repo::NodeType::kSocket;
  create_special(dir.sub("sock"), n);
  EXPECT_TRUE(S_ISSOCK(lstat_of(dir.sub("sock")).st_mode));
}

TEST(CreateSpecial, CharAndBlockDevices) {
  if (!is_root()) GTEST_SKIP() << "mknod of devices needs root";
  TempDir dir;
  repo::Node n;
  n.type = repo::NodeType::kCharDevice;
  n.rdev = makedev(1, 3);
  create_special(dir.sub("null"), n);
  struct stat st = lstat_of(dir.sub("null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  n.type = repo::NodeType::kBlockDevice;
  n.rdev = makedev(7, 201);
  create_special(dir.sub("blk"), n);
  st = lstat_of(dir.sub("blk"));
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(7, 201));
}

TEST(CreateSpecial, ErrorsNameThePath) {
  TempDir dir;
  write_file(dir.sub("taken"), "x");
  repo::Node n;
  n.type = repo::NodeType::kFifo;
  try {
    create_special(dir.sub("taken"), n);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(std::string(e.what()).find(dir.sub("taken")), std::string::npos) << e.what();
  }
  n.type = repo::NodeType::kFile;
  EXPECT_THROW(create_special(dir.sub("file"), n), Error);
}

// --- apply_metadata ---

repo::Node sample_node(repo::NodeType type, uint32_t mode) {
  repo::Node n;
  n.type = type;
  n.mode = mode;
  n.uid = geteuid();
  n.gid = getegid();
  n.atime_ns = 1893456000 * kSec + 987654321;  // 2030
  n.mtime_ns = 929450096 * kSec + 123456789;   // 1999
  return n;
}

TEST(ApplyMetadata, FileModeWithSetgidAndNanosecondTimes) {
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "data", 0600);
  repo::Node n = sample_node(repo::NodeType::kFile, 02755);
  apply_metadata(p, n, {.restore_owner = is_root()});
  repo::Node got = capture(p);
  EXPECT_EQ(got.mode, 02755u);
  EXPECT_EQ(got.mtime_ns, n.mtime_ns);
  EXPECT_EQ(got.atime_ns, n.atime_ns);
}

TEST(ApplyMetadata, TimesBeforeTheEpoch) {
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "data");
  repo::Node n = sample_node(repo::NodeType::kFile, 0644);
  n.mtime_ns = -310406400 * kSec + 500000001;  // 1960-03-01 08:00:00.500000001
  apply_metadata(p, n, {.restore_owner = false});
  struct stat st = lstat_of(p);
  EXPECT_EQ(st.st_mtim.tv_sec, -310406400);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500000001);
  EXPECT_EQ(capture(p).mtime_ns, n.mtime_ns);
}

TEST(ApplyMetadata, DirectoryStickyAndSetgid) {
  TempDir dir;
  std::string p = dir.sub("d");
  ASSERT_EQ(mkdir(p.c_str(), 0700), 0);
  apply_metadata(p, sample_node(repo::NodeType::kDir, 01777), {.restore_owner = false});
  EXPECT_EQ(lstat_of(p).st_mode & 07777, 01777u);
  apply_metadata(p, sample_node(repo::NodeType::kDir, 02775), {.restore_owner = false});
  repo::Node got = capture(p);
  EXPECT_EQ(got.mode, 02775u);
  EXPECT_EQ(got.mtime_ns, 929450096 * kSec + 123456789);
}

TEST(ApplyMetadata, OwnerBeforeSetuidMode) {
  if (!is_root()) GTEST_SKIP() << "chown to another uid needs root";
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "data", 0600);
  repo::Node n = sample_node(repo::NodeType::kFile, 04755);
  n.uid = 12345;
  n.gid = 12346;
  apply_metadata(p, n, {});
  struct stat st = lstat_of(p);
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 12346u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // chown would have cleared it
}

TEST(ApplyMetadata, RestoreOwnerFalseLeavesOwner) {
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "data");
  repo::Node n = sample_node(repo::NodeType::kFile, 0644);
  n.uid = 12345;
  n.gid = 12346;
  apply_metadata(p, n, {.restore_owner = false});
  EXPECT_EQ(lstat_of(p).st_uid, geteuid());
}

TEST(ApplyMetadata, OwnerFailureThrowsWhenAsked) {
  if (is_root()) GTEST_SKIP() << "root may chown to anyone";
  TempDir dir;
  std::string p = dir.sub("f");
  write_file(p, "data");
  repo::Node n = sample_node(repo::NodeType::kFile, 0644);
  n.uid = 12345;
  EXPECT_THROW(apply_metadata(p, n, {}), Error);
}

TEST(ApplyMetadata, SymlinkGetsOwnerAndTimesNotTheTarget) {
  TempDir dir;
  std::string target = dir.sub("target");
  write_file(target, "t", 0600);
  set_times(target, 5 * kSec, 7 * kSec);
  repo::Node n = sample_node(repo::NodeType::kSymlink, 0777);
  n.symlink_target = "target";
  std::string link = dir.sub("link");
  create_special(link, n);
  if (is_root()) {
    n.uid = 12345;
    n.gid = 12346;
  }
  apply_metadata(link, n, {.restore_owner = is_root()});
  repo::Node got = capture(link);
  EXPECT_EQ(got.mtime_ns, n.mtime_ns);
  EXPECT_EQ(got.uid, n.uid);
  struct stat ts = lstat_of(target);
  EXPECT_EQ(ts.st_mtim.tv_sec, 7);
  EXPECT_EQ(ts.st_mode & 07777, 0600u);
  EXPECT_EQ(ts.st_uid, geteuid());

  // A dangling symlink works too.
  n.symlink_target = "missing";
  create_special(dir.sub("dangling"), n);
  apply_metadata(dir.sub("dangling"), n, {.restore_owner = is_root()});
  EXPECT_EQ(capture(dir.sub("dangling")).mtime_ns, n.mtime_ns);
}

TEST(ApplyMetadata, FifoModeAndTimes) {
  TempDir dir;
  repo::Node n = sample_node(repo::NodeType::kFifo, 0640);
  create_special(dir.sub("fifo"), n);
  apply_metadata(dir.sub("fifo"), n, {.restore_owner = is_root()});
  repo::Node got = capture(dir.sub("fifo"));
  EXPECT_EQ(got.mode, 0640u);
  EXPECT_EQ(got.mtime_ns, n.mtime_ns);
}

TEST(ApplyMetadata, MissingPathThrowsNamingIt) {
  TempDir dir;
  std::string p = dir.sub("missing");
  try {
    apply_metadata(p, sample_node(repo::NodeType::kFile, 0644), {.restore_owner = false});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(ApplyMetadataFd, RoundTrip) {
  TempDir dir;
  std::string src = dir.sub("src"), dst = dir.sub("dst");
  write_file(src, "data", 02750);
  set_times(src, 1893456000 * kSec + 1, 929450096 * kSec + 999999999);
  repo::Node n = capture(src);
  if (is_root()) {
    n.uid = 12345;
    n.gid = 12346;
  }
  int fd = open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  apply_metadata_fd(fd, dst, n, {.restore_owner = is_root()});
  close(fd);
  repo::Node got = capture(dst);
  EXPECT_EQ(got.mode, 02750u);
  EXPECT_EQ(got.uid, n.uid);
  EXPECT_EQ(got.gid, n.gid);
  EXPECT_EQ(got.mtime_ns, n.mtime_ns);
  EXPECT_EQ(got.atime_ns, n.atime_ns);
}

TEST(ApplyMetadataFd, BadFdThrowsNamingPath) {
  try {
    apply_metadata_fd(-1, "/restore/target/file", sample_node(repo::NodeType::kFile, 0644),
                      {.restore_owner = false});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/restore/target/file"), std::string::npos);
  }
}

}  // namespace
}  // namespace lifeboat::fs
