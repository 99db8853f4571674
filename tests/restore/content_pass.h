// A content pass on its own (restore/content.h), for tests that plan files
// by hand instead of walking a snapshot.
#pragma once

#include <fcntl.h>

#include <string>
#include <vector>

#include "restore/dir_table.h"
#include "restore/file_table.h"
#include "restore/planner.h"
#include "restore/reporter.h"
#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {

// Files planned by hand into a temporary directory, each with a rank (its
// "account").
struct ContentPass {
  lifeboat::test::TempDir tmp;
  RestoreOptions options;
  Reporter reporter{options};
  DirTable dirs{tmp.path()};
  DirFds fds{dirs, open(tmp.path().c_str(), O_PATH | O_DIRECTORY), 4};
  std::vector<PlannedFile> planned;
  std::vector<BlobRef> refs;
  std::vector<uint32_t> rank;

  // A file `name` of `size` bytes, all of it blob `blob`.
  void add(const std::string& name, const Id& blob, uint32_t size, uint32_t file_rank) {
    PlannedFile f;
    f.name = name;
    f.meta = FileMeta::of(TestRepo::meta("", NodeType::kFile, 0644, 1'000'000'000 * kSec));
    f.meta.size = size;
    refs.push_back(BlobRef{blob, static_cast<uint32_t>(planned.size()), size, 0});
    planned.push_back(f);
    rank.push_back(file_rank);
  }
};

}  // namespace lifeboat::restore::test
