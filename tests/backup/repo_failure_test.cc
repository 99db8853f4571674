// A repository that stops accepting writes fails the backup with the
// repository's error: it never hangs and never saves a snapshot.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "backend/fault_backend.h"
#include "backend/mem_backend.h"
#include "backup/archiver.h"
#include "base/error.h"
#include "support/temp_dir.h"

namespace lifeboat::backup {
namespace {

TEST(ArchiverRepositoryFailure, FailsTheBackupWithoutHanging) {
  test::TempDir dir;
  std::string src = dir.path() + "/src";
  ::mkdir(src.c_str(), 0755);
  for (int d = 0; d < 20; ++d) {
    std::string sub = src + "/d" + std::to_string(d);
    ::mkdir(sub.c_str(), 0755);
    for (int i = 0; i < 20; ++i) {
      std::ofstream f(sub + "/f" + std::to_string(i), std::ios::binary);
      std::string data(300000, '\0');
      for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<char>((k * 7919u + i * 131u + d) >> 3);
      f << data;
    }
  }
  // How many saves an undisturbed backup makes (packs, index, snapshot).
  uint64_t total = 0;
  {
    auto mem = std::make_shared<backend::MemBackend>();
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {});
    auto fault = std::make_shared<backend::FaultBackend>(mem);
    auto repo = repo::Repository::open(fault, "pw");
    uint64_t before = fault->saves();
    run_backup(*repo, src, {});
    total = fault->saves() - before;
  }
  ASSERT_GE(total, 3u);
  // Fail the first save, one in the middle, the index segment, the snapshot.
  for (uint64_t fail_at : {uint64_t{1}, total / 2, total - 1, total}) {
    auto mem = std::make_shared<backend::MemBackend>();
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {});
    auto fault = std::make_shared<backend::FaultBackend>(mem);
    auto repo = repo::Repository::open(fault, "pw");
    fault->fail_save_at(fault->saves() + fail_at, true);
    EXPECT_THROW(run_backup(*repo, src, {}), Error) << "fail_at " << fail_at;
    size_t snapshots = 0;
    mem->list(backend::ObjectType::kSnapshot, [&](std::string_view, uint64_t) { ++snapshots; });
    EXPECT_EQ(snapshots, 0u);
  }
}

}  // namespace
}  // namespace lifeboat::backup
