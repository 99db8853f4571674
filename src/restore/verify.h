// Verification of what a restore wrote, against the plan it was written
// from (that is, against the snapshot): before an account counts as ready,
// every file is read back and each content part's keyed id recomputed and
// compared with the blob id the snapshot names; everything between the parts
// must read as zeros (holes); sizes, types, modes, owners (when restored),
// modification times, xattrs, symlink targets, device numbers and hard links
// must be what the snapshot says.
//
// Entries the restore already reported as failed are not verified again.
// Reading uses one buffer per call (the largest part, at most a max-size
// chunk) and pread; no file is opened for writing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fs/metadata.h"
#include "repo/repository.h"
#include "restore/dir_table.h"
#include "restore/file_table.h"
#include "restore/planner.h"

namespace lifeboat::restore {

class Verifier {
 public:
  using MismatchFn = std::function<void(const std::string& path, const std::string& what)>;

  // `refs` are the content parts of every file, sorted by (file, offset):
  // the order the planner produces them in.
  Verifier(const repo::Repository& repo, const DirTable& dirs, DirFds& dir_fds,
           const FileTable& files, const std::vector<BlobRef>& refs, fs::ApplyOptions apply);

  // Each returns how many entries differ, reporting each through `mismatch`.
  uint64_t files(uint32_t begin, uint32_t end, const MismatchFn& mismatch) const;
  uint64_t links(const PlannedLink* begin, const PlannedLink* end, const MismatchFn& mismatch) const;
  uint64_t specials(const PlannedSpecial* begin, const PlannedSpecial* end,
                    const MismatchFn& mismatch) const;
  // Directories [begin, end) that were created and carry metadata.
  uint64_t dirs(uint32_t begin, uint32_t end, const MismatchFn& mismatch) const;

 private:
  std::string check_file(uint32_t f) const;  // "" if it matches

  const repo::Repository& repo_;
  const DirTable& dirs_;
  DirFds& dir_fds_;
  const FileTable& files_;
  const std::vector<BlobRef>& refs_;
  const fs::ApplyOptions apply_;
};

}  // namespace lifeboat::restore
