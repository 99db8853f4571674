// Fidelity: backup then restore of a generated tree with every kind of entry
// and metadata (tests/support/fidelity_tree.h) reproduces it exactly, through
// the real archiver and restorer on a local repository.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "backend/local_backend.h"
#include "backup/archiver.h"
#include "restore/restorer.h"
#include "support/fidelity_tree.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat {
namespace {

struct LocalRepo {
  std::unique_ptr<repo::Repository> repo;
  explicit LocalRepo(const std::string& path) {
    auto be = std::make_shared<backend::LocalBackend>(path);
    repo::Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {});
    repo = repo::Repository::open(be, "pw");
  }
};

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

TEST(RoundTrip, FidelityTreeWithTenGiBSparseFileRestoresExactly) {
  test::TempDir dir;
  std::string src = dir.sub("src");
  test::FidelityOptions fo;
  fo.big_sparse_bytes = 10ull << 30;  // 10 GiB apparent, a few KiB of data
  test::make_fidelity_tree(src, 42, fo);

  LocalRepo r(dir.sub("repo"));
  std::vector<std::string> errors;
  backup::BackupOptions bo;
  bo.account = "fidelity";
  bo.on_error = [&](const std::string& p, const std::string& m) { errors.push_back(p + ": " + m); };
  auto t0 = std::chrono::steady_clock::now();
  auto b = backup::run_backup(*r.repo, src, bo);
  double backup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(errors.empty()) << join_lines(errors);
  EXPECT_FALSE(b.partial);
  // A 10 GiB sparse file must not be read as 10 GiB of zeros.
  EXPECT_LT(b.snapshot.summary.bytes_read, 64u << 20);
  EXPECT_LT(backup_s, 60.0);

  std::string out = dir.sub("restored");
  restore::RestoreOptions ro;
  ro.on_error = [&](const std::string& p, const std::string& m) { errors.push_back(p + ": " + m); };
  ro.verify = true;  // the restore's own check agrees with compare_trees below
  t0 = std::chrono::steady_clock::now();
  auto res = restore::run_restore(*r.repo, b.snapshot.tree, out, ro);
  double restore_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(errors.empty()) << join_lines(errors);
  EXPECT_EQ(res.errors, 0u);
  EXPECT_EQ(res.mismatches, 0u);
  EXPECT_LT(restore_s, 60.0);

  test::CompareOptions co;
  co.owners = ::geteuid() == 0;
  auto diffs = test::compare_trees(src, out, co);
  EXPECT_TRUE(diffs.empty()) << join_lines(diffs);

  // Holes stay holes: the restored sparse file allocates about what the source does.
  struct stat a, c;
  ASSERT_EQ(::stat((src + "/" + test::fidelity_paths::kSparse).c_str(), &a), 0);
  ASSERT_EQ(::stat((out + "/" + test::fidelity_paths::kSparse).c_str(), &c), 0);
  EXPECT_EQ(a.st_size, c.st_size);
  EXPECT_LT(c.st_blocks * 512, a.st_blocks * 512 + (1 << 20));
}

TEST(RoundTrip, IncrementalBackupRestoresTheNewState) {
  test::TempDir dir;
  std::string src = dir.sub("src");
  test::FidelityOptions fo;
  fo.big_random_file = false;
  test::make_fidelity_tree(src, 5, fo);
  LocalRepo r(dir.sub("repo"));
  auto first = backup::run_backup(*r.repo, src, {});
  // Change, add and remove a few things.
  ASSERT_EQ(::truncate((src + "/" + test::fidelity_paths::kMibPlus17).c_str(), 100), 0);
  ASSERT_EQ(::unlink((src + "/" + test::fidelity_paths::kMode0600).c_str()), 0);
  ASSERT_EQ(::mkdir((src + "/newdir").c_str(), 0700), 0);
  backup::BackupOptions bo;
  bo.parent = first.snapshot;
  bo.parent_id = first.snapshot_id;
  auto second = backup::run_backup(*r.repo, src, bo);
  EXPECT_EQ(second.snapshot.summary.files_changed, 1u);

  std::string out = dir.sub("restored");
  auto res = restore::run_restore(*r.repo, second.snapshot.tree, out, {});
  EXPECT_EQ(res.errors, 0u);
  test::CompareOptions co;
  co.owners = ::geteuid() == 0;
  auto diffs = test::compare_trees(src, out, co);
  EXPECT_TRUE(diffs.empty()) << join_lines(diffs);
}

}  // namespace
}  // namespace lifeboat
