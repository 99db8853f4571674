// What only the local directory backend has: its layout on disk, temporary
// files, errno mapping; plus object naming and open_backend().

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/fault_backend.h"
#include "backend/local_backend.h"
#include "backend/mem_backend.h"

namespace lifeboat::backend {
namespace {

namespace fs = std::filesystem;

const std::string kId = "ab" + std::string(62, '1');
const std::string kId2 = "cd" + std::string(62, '2');

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lifeboat-local-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <typename Fn>
Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "no error");
}

std::vector<std::string> temp_files(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// ---- naming -----------------------------------------------------------------

TEST(HandleTest, Paths) {
  EXPECT_EQ((Handle{ObjectType::kConfig, "config"}.path()), "config");
  EXPECT_EQ((Handle{ObjectType::kConfig, ""}.path()), "config");
  EXPECT_EQ((Handle{ObjectType::kKey, "k1"}.path()), "keys/k1");
  EXPECT_EQ((Handle{ObjectType::kData, kId}.path()), "data/ab/" + kId);
  EXPECT_EQ((Handle{ObjectType::kIndex, "i1"}.path()), "index/i1");
  EXPECT_EQ((Handle{ObjectType::kSnapshot, "s1"}.path()), "snapshots/s1");
  EXPECT_EQ((Handle{ObjectType::kLock, "l1"}.path()), "locks/l1");
  EXPECT_EQ((Handle{ObjectType::kLock, "l1"}.describe()), "locks/l1");
  EXPECT_STREQ(object_type_dir(ObjectType::kSnapshot), "snapshots");
}

TEST(HandleTest, InvalidNames) {
  EXPECT_EQ(error_of([] { (void)Handle{ObjectType::kKey, ""}.path(); }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([] { (void)Handle{ObjectType::kKey, "../x"}.path(); }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([] { (void)Handle{ObjectType::kIndex, ".tmp-1"}.path(); }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([] { (void)Handle{ObjectType::kData, "a"}.path(); }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([] { (void)Handle{ObjectType::kData, "xy12"}.path(); }).code(),
            ErrorCode::kInvalidArgument);
}

// ---- open_backend -------------------------------------------------------------

TEST(OpenBackendTest, PlainPathsAreLocal) {
  auto abs = open_backend("/srv/backups/repo");
  ASSERT_NE(dynamic_cast<LocalBackend*>(abs.get()), nullptr);
  EXPECT_EQ(abs->location(), "/srv/backups/repo");

  auto trailing = open_backend("/srv/backups/repo/");
  EXPECT_EQ(trailing->location(), "/srv/backups/repo");

  auto rel = open_backend("some/repo");
  ASSERT_NE(dynamic_cast<LocalBackend*>(rel.get()), nullptr);
  EXPECT_EQ(rel->location(), (fs::current_path() / "some/repo").string());

  // Colons after a '/', or a first character that is not a letter: paths.
  for (const char* loc : {"./odd:name", "/x/y:z", "1abc:x", "relative/a:b"}) {
    auto b = open_backend(loc);
    EXPECT_NE(dynamic_cast<LocalBackend*>(b.get()), nullptr) << loc;
  }
}

TEST(OpenBackendTest, SchemesAreRejectedWithAHint) {
  for (std::string loc : {"mem:", "odd:name", "x+y.z-w:rest"}) {
    Error e = error_of([&] { open_backend(loc); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << loc;
    std::string msg = e.what();
    EXPECT_NE(msg.find("unsupported repository location '" + loc + "'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("use a local path"), std::string::npos) << msg;
  }
  EXPECT_EQ(error_of([] { open_backend(""); }).code(), ErrorCode::kInvalidArgument);
}

TEST(OpenBackendTest, RemoteSchemesOpenTheirBackends) {
  // Opening connects to nothing: locations are parsed and shown.
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret-never-shown", 1);
  EXPECT_EQ(open_backend("s3:https://s3.example.com/bucket/p/")->location(), "s3:https://s3.example.com/bucket/p");
  EXPECT_EQ(open_backend("sftp:user@host:2222/srv/repo")->location().rfind("sftp:user@host:2222", 0), 0u)
      << open_backend("sftp:user@host:2222/srv/repo")->location();
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
}

TEST(OpenBackendTest, RestUrlsNeverShowThePassword) {
  auto b = open_backend("rest:http://node1:s3cret@127.0.0.1:8000/web209/");
  EXPECT_EQ(b->location(), "rest:http://node1@127.0.0.1:8000/web209");
  EXPECT_EQ(open_backend("rest:https://backup.example.net/")->location(),
            "rest:https://backup.example.net");
  for (std::string bad : {"rest:ftp://host/x", "rest:http://", "rest:host:8000"}) {
    Error e = error_of([&] { open_backend(bad); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(std::string(e.what()).find("rest:"), std::string::npos) << e.what();
  }
}

// ---- layout -------------------------------------------------------------------

TEST(LocalBackendTest, CreateMakesTheLayout) {
  TempDir tmp;
  const std::string root = tmp.path() + "/a/b/repo";  // parents made too
  LocalBackend b(root);
  b.create();
  for (const char* d : {"keys", "data", "index", "snapshots", "locks"}) {
    EXPECT_TRUE(fs::is_directory(root + "/" + d)) << d;
  }
  int shards = 0;
  for (const auto& e : fs::directory_iterator(root + "/data")) {
    EXPECT_TRUE(e.is_directory());
    EXPECT_EQ(e.path().filename().string().size(), 2u);
    ++shards;
  }
  EXPECT_EQ(shards, 256);
  EXPECT_TRUE(fs::is_directory(root + "/data/00"));
  EXPECT_TRUE(fs::is_directory(root + "/data/ff"));
  EXPECT_FALSE(fs::exists(root + "/config"));
  EXPECT_EQ(fs::status(root).permissions() & fs::perms::others_all, fs::perms::none);
}

TEST(LocalBackendTest, CreateInAnExistingEmptyishDirectory) {
  TempDir tmp;
  fs::create_directory(tmp.path() + "/lost+found");
  write_file(tmp.path() + "/.hidden", "x");
  LocalBackend b(tmp.path());
  EXPECT_NO_THROW(b.create());
  EXPECT_TRUE(fs::is_directory(tmp.path() + "/data/7f"));
}

TEST(LocalBackendTest, CreateRefusesANonEmptyDirectory) {
  TempDir tmp;
  write_file(tmp.path() + "/index.html", "<html>");
  LocalBackend b(tmp.path());
  Error e = error_of([&] { b.create(); });
  EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(std::string(e.what()).find("index.html"), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(tmp.path() + "/data"));
}

TEST(LocalBackendTest, CreateOverAFileFails) {
  TempDir tmp;
  write_file(tmp.path() + "/file", "x");
  LocalBackend b(tmp.path() + "/file");
  EXPECT_THROW(b.create(), Error);
}

TEST(LocalBackendTest, AlreadyExistsNamesThePath) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  b.save(Handle{ObjectType::kData, kId}, as_bytes("one"));
  Error e = error_of([&] { b.save(Handle{ObjectType::kData, kId}, as_bytes("two")); });
  EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(std::string(e.what()).find(tmp.path() + "/data/ab/" + kId), std::string::npos)
      << e.what();
}

TEST(LocalBackendTest, NoTemporaryFilesAfterSuccess) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  b.save(Handle{ObjectType::kConfig, "config"}, as_bytes("cfg"));
  b.save(Handle{ObjectType::kKey, "k"}, as_bytes("key"));
  b.save(Handle{ObjectType::kData, kId}, as_bytes("data"));
  b.save(Handle{ObjectType::kIndex, "i"}, as_bytes("index"));
  b.save(Handle{ObjectType::kSnapshot, "s"}, as_bytes("snap"));
  b.save(Handle{ObjectType::kLock, "l"}, as_bytes("lock1"));
  b.save(Handle{ObjectType::kLock, "l"}, as_bytes("lock2"));
  EXPECT_THROW(b.save(Handle{ObjectType::kIndex, "i"}, as_bytes("again")), Error);
  EXPECT_EQ(temp_files(tmp.path()), std::vector<std::string>{});
  // Objects are private to the repository's owner.
  EXPECT_EQ(fs::status(tmp.path() + "/keys/k").permissions() & fs::perms::others_all,
            fs::perms::none);
}

TEST(LocalBackendTest, MissingShardIsCreated) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  fs::remove(tmp.path() + "/data/cd");
  b.save(Handle{ObjectType::kData, kId2}, as_bytes("x"));
  EXPECT_EQ(as_chars(b.load(Handle{ObjectType::kData, kId2}, 0, 0)), "x");
  std::vector<std::string> names;
  b.list(ObjectType::kData, [&](std::string_view n, uint64_t) { names.emplace_back(n); });
  EXPECT_EQ(names, std::vector<std::string>{kId2});
}

TEST(LocalBackendTest, ListIgnoresTemporaryAndForeignEntries) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  b.save(Handle{ObjectType::kKey, "k"}, as_bytes("key"));
  b.save(Handle{ObjectType::kData, kId}, as_bytes("data"));
  write_file(tmp.path() + "/keys/.tmp-0123456789abcdef", "partial");
  write_file(tmp.path() + "/data/ab/.tmp-0123456789abcdef", "partial");
  fs::create_directory(tmp.path() + "/keys/subdir");
  fs::create_directory(tmp.path() + "/data/zz");
  write_file(tmp.path() + "/data/zz/" + kId2, "not a shard");

  std::vector<std::string> keys, data;
  b.list(ObjectType::kKey, [&](std::string_view n, uint64_t) { keys.emplace_back(n); });
  b.list(ObjectType::kData, [&](std::string_view n, uint64_t s) {
    data.emplace_back(n);
    EXPECT_EQ(s, 4u);
  });
  EXPECT_EQ(keys, std::vector<std::string>{"k"});
  EXPECT_EQ(data, std::vector<std::string>{kId});
}

TEST(LocalBackendTest, ListOfAMissingRepositoryIsEmpty) {
  TempDir tmp;
  LocalBackend b(tmp.path() + "/nothing");
  int n = 0;
  b.list(ObjectType::kData, [&](std::string_view, uint64_t) { ++n; });
  b.list(ObjectType::kSnapshot, [&](std::string_view, uint64_t) { ++n; });
  b.list(ObjectType::kConfig, [&](std::string_view, uint64_t) { ++n; });
  EXPECT_EQ(n, 0);
}

TEST(LocalBackendTest, SaveWithoutRepositoryIsNotFound) {
  TempDir tmp;
  LocalBackend b(tmp.path() + "/nothing");
  Error e = error_of([&] { b.save(Handle{ObjectType::kSnapshot, "s"}, as_bytes("x")); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find(tmp.path() + "/nothing/snapshots/s"), std::string::npos)
      << e.what();
  EXPECT_FALSE(fs::exists(tmp.path() + "/nothing"));
}

TEST(LocalBackendTest, LoadMissingNamesThePath) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  Error e = error_of([&] { b.load(Handle{ObjectType::kIndex, "gone"}, 0, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find(tmp.path() + "/index/gone"), std::string::npos);
}

// ---- failed saves ---------------------------------------------------------------

TEST(LocalBackendTest, FailedSaveWhenShardIsAFileLeavesNothing) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  fs::remove(tmp.path() + "/data/ab");
  write_file(tmp.path() + "/data/ab", "in the way");
  Handle h{ObjectType::kData, kId};
  Error e = error_of([&] { b.save(h, as_bytes("payload")); });
  EXPECT_NE(std::string(e.what()).find(tmp.path() + "/data/ab/" + kId), std::string::npos)
      << e.what();
  EXPECT_EQ(b.size(h), std::nullopt);
  EXPECT_EQ(temp_files(tmp.path()), std::vector<std::string>{});
}

TEST(LocalBackendTest, FailedPublishLeavesNoTemporaryFile) {
  TempDir tmp;
  LocalBackend b(tmp.path());
  b.create();
  // A directory where the object should go: link() says EEXIST, rename() EISDIR.
  fs::create_directories(tmp.path() + "/data/ab/" + kId + "/x");
  fs::create_directories(tmp.path() + "/locks/l/x");
  EXPECT_EQ(error_of([&] { b.save(Handle{ObjectType::kData, kId}, as_bytes("d")); }).code(),
            ErrorCode::kAlreadyExists);
  EXPECT_THROW(b.save(Handle{ObjectType::kLock, "l"}, as_bytes("lock")), Error);
  EXPECT_EQ(temp_files(tmp.path()), std::vector<std::string>{});
  EXPECT_TRUE(fs::is_directory(tmp.path() + "/locks/l/x"));
}

TEST(LocalBackendTest, FaultInjectedSaveLeavesNoObject) {
  TempDir tmp;
  auto local = std::make_shared<LocalBackend>(tmp.path());
  local->create();
  FaultBackend b(local);
  b.fail_save_at(1, false);
  Handle h{ObjectType::kData, kId};
  EXPECT_THROW(b.save(h, as_bytes("x")), Error);
  EXPECT_EQ(local->size(h), std::nullopt);
  b.save(h, as_bytes("x"));
  EXPECT_EQ(local->size(h), 1u);
}

// A 1 MiB tmpfs: a 2 MiB save runs out of space part way through.
TEST(LocalBackendTest, FullDiskIsNoSpaceAndLeavesNothing) {
  TempDir tmp;
  const std::string mnt = tmp.path() + "/mnt";
  fs::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs to fill (" << std::strerror(errno)
                 << "); needs root or CAP_SYS_ADMIN";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};

  LocalBackend b(mnt + "/repo");
  b.create();
  Handle h{ObjectType::kData, kId};
  Bytes big(2 << 20, 0x5a);
  Error e = error_of([&] { b.save(h, big); });
  EXPECT_EQ(e.code(), ErrorCode::kNoSpace) << e.what();
  EXPECT_NE(std::string(e.what()).find(mnt + "/repo/data/ab/" + kId), std::string::npos)
      << e.what();
  EXPECT_EQ(b.size(h), std::nullopt);
  EXPECT_EQ(temp_files(mnt), std::vector<std::string>{});
  // The space of the failed attempt is given back.
  Bytes small(100 << 10, 0x11);
  b.save(h, small);
  EXPECT_EQ(b.load(h, 0, 0), small);
}

}  // namespace
}  // namespace lifeboat::backend
