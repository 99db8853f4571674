#include "backup/archiver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "repo/lock_records.h"
#include "repo/writer_registration.h"
#include "support/fidelity_tree.h"
#include "support/mem_repo.h"
#include "support/snapshot_lookup.h"
#include "support/temp_dir.h"

namespace lifeboat::backup {
namespace {

using Fixture = test::MemRepo;

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

using test::lookup;

TEST(Archiver, BacksUpFidelityTreeAndSkipsUnchangedFilesNextTime) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  test::make_fidelity_tree(src, 7);
  Fixture f;
  BackupOptions opts;
  opts.account = "alice";
  std::vector<std::string> errors;
  opts.on_error = [&](const std::string& p, const std::string& m) { errors.push_back(p + ": " + m); };
  BackupResult first = run_backup(*f.repo, src, opts);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_FALSE(first.partial);
  EXPECT_GT(first.snapshot.summary.files_new, 20u);
  EXPECT_GT(first.snapshot.summary.bytes_read, 9u << 20);
  EXPECT_EQ(first.snapshot.summary.files_unmodified, 0u);

  // Sparse file: holes recorded as holes, not read as zeros.
  auto sparse = lookup(*f.repo, first.snapshot, test::fidelity_paths::kSparse);
  ASSERT_TRUE(sparse);
  bool has_hole = false;
  uint64_t total = 0;
  for (auto& p : sparse->content) {
    has_hole |= p.is_hole();
    total += p.length;
  }
  EXPECT_TRUE(has_hole);
  EXPECT_EQ(total, sparse->size);
  EXPECT_LT(first.snapshot.summary.bytes_read, 40u << 20);  // the 64 MiB sparse file was not read whole

  // Re-backup with the parent: metadata work only.
  opts.parent = first.snapshot;
  opts.parent_id = first.snapshot_id;
  BackupResult second = run_backup(*f.repo, src, opts);
  EXPECT_EQ(second.snapshot.summary.bytes_read, 0u);
  EXPECT_EQ(second.snapshot.summary.files_new + second.snapshot.summary.files_changed, 0u);
  EXPECT_EQ(second.snapshot.summary.blobs_added, 0u);
  EXPECT_EQ(second.snapshot.tree, first.snapshot.tree);  // identical tree, identical id
  EXPECT_EQ(*second.snapshot.parent, first.snapshot_id);

  // A changed file is read again, and only it.
  std::string changed = src + "/" + test::fidelity_paths::kMibPlus17;
  write_file(changed, std::string(3000, 'z'));
  opts.parent = second.snapshot;
  BackupResult third = run_backup(*f.repo, src, opts);
  EXPECT_EQ(third.snapshot.summary.files_changed, 1u);
  EXPECT_EQ(third.snapshot.summary.bytes_read, 3000u);
}

TEST(Archiver, IdenticalContentIsStoredOnce) {
  test::TempDir dir;
  std::string a = dir.path() + "/a", b = dir.path() + "/b";
  ::mkdir(a.c_str(), 0755);
  ::mkdir(b.c_str(), 0755);
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(a + "/x", big);
  write_file(b + "/y", big);
  Fixture f;
  auto r1 = run_backup(*f.repo, a, {});
  auto r2 = run_backup(*f.repo, b, {});
  EXPECT_GT(r1.snapshot.summary.bytes_added, 4u << 20);
  EXPECT_LT(r2.snapshot.summary.bytes_added, 4096u);  // only the new tree blobs
}

// A backup that starts while a prune plan exists must not rely on the
// plan's packs (they may be deleted while it runs): content stored only
// there is stored again — small files, large files (chunked on the CPU
// pool) and files unchanged since the parent snapshot alike.
TEST(Archiver, ContentOnlyInPacksAPrunePlanWillDeleteIsStoredAgain) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(src + "/big", big);
  write_file(src + "/small", std::string(3000, 's'));
  Fixture f;
  BackupOptions opts;
  opts.account = "a";
  auto first = run_backup(*f.repo, src, opts);
  // A prune plans to delete every pack there is.
  repo::LockRecord plan;
  plan.kind = repo::LockKind::kPlan;
  plan.run = repo::new_run_id();
  plan.seq = 1;
  plan.time = plan.started = now_unix_nanos();
  plan.plan_id = Id{};
  plan.plan_id.bytes[0] = 1;
  f.be->list(backend::ObjectType::kData, [&](std::string_view name, uint64_t) {
    plan.packs.push_back(*Id::from_hex(name));
  });
  f.be->save({backend::ObjectType::kLock, plan.name()}, repo::encode_lock_record(f.repo->keys().encryption, plan));

  auto writer_repo = repo::Repository::open(f.be, "pw");
  repo::WriterRegistration writer(*writer_repo, "backup a");
  writer_repo->load_index();
  opts.parent_id = first.snapshot_id;
  opts.parent = first.snapshot;  // unchanged files would reuse its content ids
  auto second = run_backup(*writer_repo, src, opts);
  EXPECT_GE(second.snapshot.summary.bytes_added, big.size() + 3000)
      << "deduplicated against packs a prune plans to delete";
  EXPECT_EQ(second.snapshot.summary.files_unmodified, 0u);
  // And without the plan the same backup stores nothing new.
  auto plain_repo = repo::Repository::open(f.be, "pw");
  plain_repo->load_index();
  auto third = run_backup(*plain_repo, src, opts);
  EXPECT_LT(third.snapshot.summary.bytes_added, 4096u);
}

TEST(Archiver, UnreadableAndVanishedFilesMakeThePartialResult) {
  // As root (CI) mode 0 does not stop reads; tests/e2e covers unreadable
  // files by running the binary as an unprivileged user.
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  write_file(src + "/ok", "fine");
  std::string locked = src + "/locked";
  write_file(locked, "secret");
  ::chmod(locked.c_str(), 0);
  Fixture f;
  std::vector<std::string> errors;
  BackupOptions opts;
  opts.on_error = [&](const std::string& p, const std::string&) { errors.push_back(p); };
  auto r = run_backup(*f.repo, src, opts);
  if (::geteuid() == 0) {
    EXPECT_FALSE(r.partial);  // root can read mode-0 files
    GTEST_SKIP() << "running as root: mode 0 does not make a file unreadable";
  }
  EXPECT_TRUE(r.partial);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], locked);
  EXPECT_EQ(r.snapshot.error_paths, std::vector<std::string>{locked});
}

TEST(Archiver, FilesThatChangeWhileReadAreReReadOrMarkedDamaged) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  write_file(src + "/once", "v1");
  write_file(src + "/always", "v1");
  write_file(src + "/gone", "v1");
  Fixture f;
  BackupOptions opts;
  int once_count = 0;
  opts.test_hook = [&](const std::string& path, const char* stage) {
    std::string s = stage;
    if (path == src + "/gone" && s == "before_open") ::unlink(path.c_str());
    if (s != "after_read") return;
    if (path == src + "/once" && once_count++ == 0) std::ofstream(path, std::ios::app) << "+more";
    if (path == src + "/always") std::ofstream(path, std::ios::app) << "+x";
  };
  std::vector<std::string> errors;
  opts.on_error = [&](const std::string& p, const std::string& m) { errors.push_back(p + ": " + m); };
  auto r = run_backup(*f.repo, src, opts);
  EXPECT_TRUE(r.partial);
  ASSERT_EQ(errors.size(), 2u);
  std::sort(errors.begin(), errors.end());
  EXPECT_NE(errors[0].find("always: changed while being read"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("gone: vanished"), std::string::npos) << errors[1];
  auto once = lookup(*f.repo, r.snapshot, "once");
  ASSERT_TRUE(once);
  EXPECT_FALSE(once->damaged);
  EXPECT_EQ(once->size, 7u);  // the re-read saw "v1+more"
  EXPECT_EQ(f.repo->load_blob(repo::BlobType::kData, once->content.at(0).blob), Bytes({'v', '1', '+', 'm', 'o', 'r', 'e'}));
  auto always = lookup(*f.repo, r.snapshot, "always");
  ASSERT_TRUE(always);
  EXPECT_TRUE(always->damaged);
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, "gone"));
  EXPECT_EQ(r.snapshot.summary.errors, 2u);
}

TEST(Archiver, RootThatIsNotADirectoryFails) {
  test::TempDir dir;
  write_file(dir.path() + "/f", "x");
  Fixture f;
  EXPECT_THROW(run_backup(*f.repo, dir.path() + "/f", {}), Error);
  EXPECT_THROW(run_backup(*f.repo, dir.path() + "/missing", {}), Error);
}

TEST(Archiver, ExcludesByNameAndPath) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  ::mkdir((src + "/cache").c_str(), 0755);
  write_file(src + "/cache/big", "x");
  write_file(src + "/keep.txt", "y");
  write_file(src + "/skip.tmp", "z");
  Fixture f;
  BackupOptions opts;
  opts.excludes = {"cache", "*.tmp"};
  auto r = run_backup(*f.repo, src, opts);
  EXPECT_TRUE(lookup(*f.repo, r.snapshot, "keep.txt"));
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, "skip.tmp"));
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, "cache"));
}

}  // namespace
}  // namespace lifeboat::backup

namespace lifeboat::backup {
namespace {

TEST(Archiver, ScannerCountsTotalsForProgress) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  ::mkdir((src + "/d").c_str(), 0755);
  write_file(src + "/a", std::string(1000, 'a'));
  write_file(src + "/d/b", std::string(500, 'b'));
  write_file(src + "/d/skip.tmp", std::string(70, 'c'));
  Fixture f;
  BackupProgress progress;
  BackupOptions opts;
  opts.progress = &progress;
  opts.count_totals = true;
  opts.excludes = {"*.tmp"};
  auto r = run_backup(*f.repo, src, opts);
  EXPECT_TRUE(progress.walk_finished.load());
  EXPECT_EQ(progress.files_seen.load(), 2u);
  EXPECT_EQ(progress.bytes_seen.load(), 1500u);
  EXPECT_EQ(progress.files_done.load(), 2u);
  EXPECT_EQ(r.snapshot.summary.bytes_total, 1500u);
}

}  // namespace
}  // namespace lifeboat::backup
