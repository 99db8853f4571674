// Throughput check, not run by default:
//   test_restore --gtest_also_run_disabled_tests --gtest_filter='*Bench*'
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "restore/restorer.h"
#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

TEST(RestoreBench, DISABLED_ManySmallFiles) {
  TestRepo t(16u << 20);
  const int dirs = 400, per_dir = 50;
  std::vector<Node> top;
  uint64_t bytes = 0;
  for (int d = 0; d < dirs; ++d) {
    std::vector<Node> files;
    for (int f = 0; f < per_dir; ++f) {
      Bytes data = random_bytes(512 + (f * 997 + d * 131) % 8192);
      bytes += data.size();
      files.push_back(t.file("file" + std::to_string(f) + ".php", data));
    }
    top.push_back(t.dir("acct" + std::to_string(d / 20), {}));  // placeholder, replaced below
    top.back() = t.dir("d" + std::to_string(d), files);
  }
  Id snap = t.snapshot(top);
  TempDir tmp;
  RestoreOptions options;
  auto start = std::chrono::steady_clock::now();
  RestoreResult r = run_restore(*t.repo, snap, tmp.sub("out"), options);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.errors, 0u);
  std::cerr << r.files << " files, " << bytes / 1e6 << " MB in " << secs << " s: " << r.files / secs
            << " files/s\n";
}

}  // namespace
}  // namespace lifeboat::restore::test
