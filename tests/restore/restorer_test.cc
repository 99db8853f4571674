#include "restore/restorer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>

#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

RestoreResult restore(TestRepo& t, const Id& snap, const std::string& target,
                      RestoreOptions options = {}) {
  return run_restore(*t.repo, snap, target, options);
}

TEST(Restore, FilesWithManyChunksAndSharedBlobsFetchEachBlobOnce) {
  TestRepo t(256 << 10);  // small packs: several of them
  Bytes shared = random_bytes(100000);
  Id shared_id = t.blob(shared);
  std::vector<Node> children;
  std::vector<Bytes> contents;
  for (int i = 0; i < 6; ++i) {
    Bytes own = random_bytes(50000 + i * 40000);
    Node n = t.file("f" + std::to_string(i), own, 30000);
    n.content.push_back(ContentPart{shared_id, shared.size()});  // every file ends with `shared`
    n.size += shared.size();
    own.insert(own.end(), shared.begin(), shared.end());
    contents.push_back(own);
    children.push_back(n);
  }
  Bytes big = random_bytes(3 << 20);
  children.push_back(t.file("big", big, 1 << 20));
  Id snap = t.snapshot({t.dir("d", children)});
  ASSERT_GT(t.content_packs(), 2u);

  TempDir tmp;
  Errors errors;
  RestoreProgress progress;
  RestoreOptions options;
  options.on_error = errors.callback();
  options.progress = &progress;
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 7u);
  EXPECT_EQ(r.dirs, 1u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(read_file(tmp.sub("out/d/f" + std::to_string(i))), contents[i]) << i;
  EXPECT_EQ(read_file(tmp.sub("out/d/big")), big);

  // One ranged read per pack; no byte of a pack read twice.
  auto [loads, bytes] = t.content_loads();
  EXPECT_EQ(loads, t.content_packs());
  EXPECT_LE(bytes, t.data_pack_bytes());

  uint64_t expect_bytes = big.size();
  for (const auto& c : contents) expect_bytes += c.size();
  EXPECT_EQ(progress.files_total.load(), 7u);
  EXPECT_EQ(progress.files_done.load(), 7u);
  EXPECT_EQ(progress.bytes_total.load(), expect_bytes);
  EXPECT_EQ(progress.bytes_done.load(), expect_bytes);
  EXPECT_EQ(r.bytes, expect_bytes);
}

TEST(Restore, SharedBlobIsDownloadedOnceAcrossManyFiles) {
  TestRepo t;
  Bytes core = random_bytes(1 << 20);  // a CMS core in many accounts
  Id id = t.blob(core);
  std::vector<Node> accounts;
  for (int i = 0; i < 50; ++i)
    accounts.push_back(
        t.dir("acct" + std::to_string(i), {t.file_of("core.php", {{id, core.size()}})}));
  Id snap = t.snapshot(accounts);
  TempDir tmp;
  RestoreResult r = restore(t, snap, tmp.sub("out"));
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.files, 50u);
  auto [loads, bytes] = t.content_loads();
  EXPECT_EQ(loads, 1u);
  EXPECT_LT(bytes, core.size() + 4096);
  for (int i = 0; i < 50; i += 7)
    EXPECT_EQ(read_file(tmp.sub("out/acct" + std::to_string(i) + "/core.php")), core);
}

TEST(Restore, ManyIdenticalDirectories) {
  // The same tree in 300 places: loaded from the tree cache, which is
  // cleared and refilled along the way.
  TestRepo t;
  Node lib = t.dir(
      "lib", {t.file("a.php", text_bytes("a")), t.dir("sub", {t.file("b", text_bytes("b"))})});
  std::vector<Node> sites;
  for (int i = 0; i < 300; ++i) {
    Node unique = t.file("id", text_bytes(std::to_string(i)));
    sites.push_back(t.dir("site" + std::to_string(i), {lib, unique}));
  }
  Id snap = t.snapshot(sites);
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 300u * 3);
  EXPECT_EQ(r.dirs, 300u * 3);
  for (int i = 0; i < 300; i += 37) {
    std::string site = tmp.sub("out/site" + std::to_string(i));
    EXPECT_EQ(read_file(site + "/lib/sub/b"), text_bytes("b"));
    EXPECT_EQ(read_file(site + "/id"), text_bytes(std::to_string(i)));
  }
}

TEST(Restore, TheTreeWalkReadsNeighbouringTreesTogether) {
  // 302 trees (the top, the root, 300 sites) in one pack: read a batch at a
  // time, neighbours with one ranged read, not one request per directory
  // (what a remote repository makes slow: 28,590 requests for the
  // benchmark node).
  TestRepo t;
  std::vector<Node> sites;
  for (int i = 0; i < 300; ++i)
    sites.push_back(t.dir("site" + std::to_string(i), {t.file("index.php", text_bytes(std::to_string(i)))}));
  Id snap = t.snapshot(sites);
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 300u);
  EXPECT_EQ(read_file(tmp.sub("out/site123/index.php")), text_bytes("123"));
  EXPECT_LE(t.tree_loads(), 6u);
}

TEST(Restore, SparseFileKeepsItsHoles) {
  TestRepo t;
  const uint64_t size = 10ull << 30;
  Bytes head = random_bytes(4096), tail = random_bytes(4096), zeros(64 << 10, 0);
  std::vector<ContentPart> parts;
  parts.push_back({t.blob(head), head.size()});
  parts.push_back({Id{}, size - head.size() - zeros.size() - tail.size()});  // hole
  parts.push_back({t.blob(zeros), zeros.size()});  // data that is all zeros
  parts.push_back({t.blob(tail), tail.size()});
  Node big = t.file_of("big.img", parts, 0600);
  Node all_hole = t.file_of("all_hole", {{Id{}, 1 << 30}});
  Id snap = t.snapshot({big, all_hole});

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  auto start = std::chrono::steady_clock::now();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_LT(took, std::chrono::seconds(1));

  struct stat st = lstat_of(tmp.sub("out/big.img"));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 256u << 10) << "holes were written";
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  int fd = open(tmp.sub("out/big.img").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  Bytes buf(4096);
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), 0), 4096);
  EXPECT_EQ(buf, head);
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), static_cast<off_t>(size - 4096)), 4096);
  EXPECT_EQ(buf, tail);
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), static_cast<off_t>(size / 2)), 4096);
  EXPECT_EQ(buf, Bytes(4096, 0));
  close(fd);

  struct stat h = lstat_of(tmp.sub("out/all_hole"));
  EXPECT_EQ(h.st_size, 1 << 30);
  EXPECT_EQ(h.st_blocks, 0);
}

TEST(Restore, HardLinksShareOneInodeAndContentIsFetchedOnce) {
  TestRepo t;
  Bytes data = random_bytes(300000);
  Node a = t.file("a", data, 100000);
  a.links = 3;
  a.device = 42;
  a.inode = 1001;
  Node b = a, c = a;
  b.name = "b";
  c.name = "c";
  Node other = t.file("other", random_bytes(10), 1 << 20);
  other.links = 2;  // the other link is outside the snapshot
  other.device = 42;
  other.inode = 1002;
  Id snap = t.snapshot({a, t.dir("sub", {b}), t.dir("sub2", {t.dir("deeper", {c})}), other});

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 4u);
  struct stat sa = lstat_of(tmp.sub("out/a")), sb = lstat_of(tmp.sub("out/sub/b")),
              sc = lstat_of(tmp.sub("out/sub2/deeper/c"));
  EXPECT_EQ(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sa.st_ino, sc.st_ino);
  EXPECT_EQ(sa.st_nlink, 3u);
  EXPECT_EQ(read_file(tmp.sub("out/sub2/deeper/c")), data);
  EXPECT_EQ(lstat_of(tmp.sub("out/other")).st_nlink, 1u);
  auto [loads, bytes] = t.content_loads();
  EXPECT_EQ(loads, 1u);
  EXPECT_LT(bytes, data.size() + 20000);
}

TEST(Restore, SymlinksFifosEmptyFilesEmptyDirsAndByteStringNames) {
  TestRepo t;
  std::string bad = "caf\xe9 \xff\xfe";  // not UTF-8
  Id snap = t.snapshot({
      t.symlink("rel", "../elsewhere/\xff target"),
      t.symlink("abs", "/etc/passwd"),
      t.fifo("pipe", 0620),
      t.file("empty", {}),
      t.dir("emptydir", {}, 0700),
      t.dir(bad, {t.file(bad, text_bytes("bytes"))}),
  });
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.other, 3u);
  EXPECT_EQ(r.files, 2u);

  char buf[256];
  ssize_t n = readlink(tmp.sub("out/rel").c_str(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "../elsewhere/\xff target");
  struct stat sl = lstat_of(tmp.sub("out/abs"));
  EXPECT_TRUE(S_ISLNK(sl.st_mode));
  EXPECT_EQ(mtime_ns(sl), 1'400'000'000 * kSec + 1);
  struct stat sp = lstat_of(tmp.sub("out/pipe"));
  EXPECT_TRUE(S_ISFIFO(sp.st_mode));
  EXPECT_EQ(sp.st_mode & 07777, 0620u);
  struct stat se = lstat_of(tmp.sub("out/empty"));
  EXPECT_TRUE(S_ISREG(se.st_mode));
  EXPECT_EQ(se.st_size, 0);
  EXPECT_EQ(mtime_ns(se), 1'600'000'000 * kSec + 123);
  struct stat sd = lstat_of(tmp.sub("out/emptydir"));
  EXPECT_TRUE(S_ISDIR(sd.st_mode));
  EXPECT_EQ(sd.st_mode & 07777, 0700u);
  EXPECT_EQ(read_file(tmp.sub("out/" + bad + "/" + bad)), text_bytes("bytes"));
}

TEST(Restore, ModesTimesXattrsAndOwnersAreApplied) {
  TestRepo t;
  Node f = t.file("f", text_bytes("hello"), 1 << 20, 04751, 1'111'111'111 * kSec + 111);
  f.xattrs = {{"user.binary", std::string("\x00\x01\xff", 3)}, {"user.note", "hi"}};
  Node ro = t.file("ro", text_bytes("read only"), 1 << 20, 0400);
  Node inner = t.dir("inner", {t.file("x", text_bytes("x"))}, 0711, 1'222'222'222 * kSec + 222);
  Node d = t.dir("d", {inner, f, ro}, 0555, 1'333'333'333 * kSec + 333);  // children after mode
  d.xattrs = {{"user.dir", "yes"}};
  if (geteuid() == 0) {
    f.uid = 1234;
    f.gid = 2345;
  }
  Node owned = f;
  owned.name = "owned";
  Id snap = t.snapshot({d, t.dir("o", {owned})}, 0705, 1'444'444'444 * kSec + 444);

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();

  struct stat root = lstat_of(tmp.sub("out"));
  EXPECT_EQ(root.st_mode & 07777, 0705u);
  EXPECT_EQ(mtime_ns(root), 1'444'444'444 * kSec + 444);
  struct stat sd = lstat_of(tmp.sub("out/d"));
  EXPECT_EQ(sd.st_mode & 07777, 0555u);
  EXPECT_EQ(mtime_ns(sd), 1'333'333'333 * kSec + 333);
  struct stat si = lstat_of(tmp.sub("out/d/inner"));
  EXPECT_EQ(si.st_mode & 07777, 0711u);
  EXPECT_EQ(mtime_ns(si), 1'222'222'222 * kSec + 222);
  struct stat sf = lstat_of(tmp.sub("out/d/f"));
  EXPECT_EQ(sf.st_mode & 07777, 04751u);
  EXPECT_EQ(mtime_ns(sf), 1'111'111'111 * kSec + 111);
  EXPECT_EQ(sf.st_atim.tv_nsec, 118);
  EXPECT_EQ(lstat_of(tmp.sub("out/d/ro")).st_mode & 07777, 0400u);
  EXPECT_EQ(read_file(tmp.sub("out/d/ro")), text_bytes("read only"));

  char value[16];
  ssize_t n = lgetxattr(tmp.sub("out/d/f").c_str(), "user.binary", value, sizeof value);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(std::string(value, 3), std::string("\x00\x01\xff", 3));
  n = lgetxattr(tmp.sub("out/d").c_str(), "user.dir", value, sizeof value);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(std::string(value, 3), "yes");

  if (geteuid() == 0) {
    struct stat so = lstat_of(tmp.sub("out/o/owned"));
    EXPECT_EQ(so.st_uid, 1234u);
    EXPECT_EQ(so.st_gid, 2345u);
    EXPECT_EQ(so.st_mode & 07777, 04751u);  // setuid survives the chown

    TempDir tmp2;
    RestoreOptions no_owner;
    no_owner.restore_owner = false;
    restore(t, snap, tmp2.sub("out"), no_owner);
    struct stat so2 = lstat_of(tmp2.sub("out/o/owned"));
    EXPECT_EQ(so2.st_uid, 0u);
    EXPECT_EQ(so2.st_mode & 07777, 0751u) << "a foreign setuid bit must not become root's";
    EXPECT_EQ(lstat_of(tmp2.sub("out/d/f")).st_mode & 07777, 04751u);
  }
}

TEST(Restore, DeepTreeBeyondPathMax) {
  TestRepo t;
  const int depth = 40;
  auto name_at = [](int level) {
    std::string n(255, static_cast<char>('a' + level % 26));
    n.replace(0, 3, std::to_string(100 + level));
    return n;
  };
  Bytes data = random_bytes(5000);
  Node inner = t.dir(name_at(depth - 1),
                     {t.file("leaf", data), t.symlink("link", "leaf"), t.fifo("pipe"),
                      t.file_of("sparse", {{Id{}, 1 << 20}})},
                     0750, 1'000'000'001 * kSec);
  for (int level = depth - 2; level >= 0; --level)
    inner = t.dir(name_at(level), {inner}, 0755, (1'000'000'000 + level) * kSec);
  Id snap = t.snapshot({inner});

  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.dirs, static_cast<uint64_t>(depth));
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.other, 2u);

  // Walk down with openat: the full path is far beyond PATH_MAX.
  int fd = open(tmp.sub("out").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int level = 0; level < depth; ++level) {
    struct stat st;
    ASSERT_EQ(fstatat(fd, name_at(level).c_str(), &st, AT_SYMLINK_NOFOLLOW), 0) << level;
    EXPECT_EQ(mtime_ns(st),
              level == depth - 1 ? 1'000'000'001 * kSec : (1'000'000'000 + level) * kSec)
        << level;
    int next = openat(fd, name_at(level).c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(next, 0) << level;
    close(fd);
    fd = next;
  }
  int leaf = openat(fd, "leaf", O_RDONLY);
  ASSERT_GE(leaf, 0);
  Bytes got(data.size() + 10);
  EXPECT_EQ(read(leaf, got.data(), got.size()), static_cast<ssize_t>(data.size()));
  got.resize(data.size());
  EXPECT_EQ(got, data);
  close(leaf);
  char buf[16];
  EXPECT_EQ(readlinkat(fd, "link", buf, sizeof buf), 4);
  struct stat sp;
  ASSERT_EQ(fstatat(fd, "pipe", &sp, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(S_ISFIFO(sp.st_mode));
  EXPECT_EQ(mtime_ns(sp), 1'300'000'000 * kSec + 2);
  ASSERT_EQ(fstatat(fd, "sparse", &sp, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(sp.st_size, 1 << 20);
  close(fd);
}

TEST(Restore, DamagedEntriesAreRestoredAndCounted) {
  TestRepo t;
  Node f = t.file("half", text_bytes("what could be read"));
  f.damaged = true;
  Id snap = t.snapshot({f, t.file("fine", text_bytes("ok"))});
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.damaged, 1u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.files, 2u);
  ASSERT_EQ(errors.list.size(), 1u);
  EXPECT_TRUE(errors.mentions("/half"));
  EXPECT_NE(errors.list[0].second.find("damaged at backup time"), std::string::npos);
  EXPECT_EQ(read_file(tmp.sub("out/half")), text_bytes("what could be read"));
}

TEST(Restore, IntoExistingTargetReplacesEntriesAndNeverFollowsSymlinks) {
  TestRepo t;
  Id snap = t.snapshot(
      {t.file("victim", text_bytes("restored")), t.dir("d", {t.fifo("p")}), t.symlink("s", "new")});
  TempDir tmp;
  std::string outside = tmp.sub("outside");
  ASSERT_EQ(mkdir(tmp.sub("out").c_str(), 0755), 0);
  int fd = open(outside.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_EQ(write(fd, "precious", 8), 8);
  close(fd);
  ASSERT_EQ(::symlink(outside.c_str(), tmp.sub("out/victim").c_str()), 0);
  ASSERT_EQ(::symlink(tmp.path().c_str(), tmp.sub("out/d").c_str()), 0);
  ASSERT_EQ(::symlink("old", tmp.sub("out/s").c_str()), 0);

  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(read_file(outside), text_bytes("precious"));
  EXPECT_TRUE(S_ISREG(lstat_of(tmp.sub("out/victim")).st_mode));
  EXPECT_EQ(read_file(tmp.sub("out/victim")), text_bytes("restored"));
  EXPECT_TRUE(S_ISDIR(lstat_of(tmp.sub("out/d")).st_mode));
  EXPECT_FALSE(exists(tmp.sub("p")));
  char buf[8];
  EXPECT_EQ(readlink(tmp.sub("out/s").c_str(), buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), "new");
}

TEST(Restore, ManyFilesWithFewOpenFileSlots) {
  // Every file has its first half in one pack and its second half in
  // another, so all of them are half-written at once.
  TestRepo t(64 << 10);
  std::vector<Bytes> firsts, seconds;
  for (int i = 0; i < 40; ++i) firsts.push_back(random_bytes(3000 + i));
  std::vector<Id> first_ids;
  for (auto& b : firsts) first_ids.push_back(t.blob(b));
  t.repo->flush();
  std::vector<Node> files;
  for (int i = 0; i < 40; ++i) {
    seconds.push_back(random_bytes(5000 + i));
    files.push_back(t.file_of("f" + std::to_string(i), {{first_ids[i], firsts[i].size()},
                                                        {t.blob(seconds[i]), seconds[i].size()}}));
  }
  Id snap = t.snapshot({t.dir("many", files)});
  TempDir tmp;
  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  options.max_open_files = 3;
  options.fetch_threads = 3;
  RestoreResult r = restore(t, snap, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 40u);
  for (int i = 0; i < 40; ++i) {
    Bytes want = firsts[i];
    want.insert(want.end(), seconds[i].begin(), seconds[i].end());
    EXPECT_EQ(read_file(tmp.sub("out/many/f" + std::to_string(i))), want) << i;
  }
}

}  // namespace
}  // namespace lifeboat::restore::test
