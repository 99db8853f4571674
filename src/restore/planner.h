// The first pass of a restore: walks the snapshot's trees (loading a batch
// of sibling trees in parallel), applies subpath and include/exclude
// filters, creates every directory and special file (symlinks, fifos,
// devices, sockets) on the way, and returns what is left to do: the regular
// files with the blobs their content needs, and the hard links.
//
// Directories are created with mode 0700 and get their final metadata at the
// end (restorer.cc); with include patterns a directory is created only once
// something below it is included. When owners are not restored, files and
// special files lose setuid/setgid bits that belonged to another owner.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "restore/dir_table.h"
#include "restore/file_table.h"
#include "restore/path_filter.h"
#include "restore/reporter.h"
#include "restore/restorer.h"
#include "restore/sources.h"

namespace lifeboat::restore {

// One non-hole part of a file's content: `length` bytes at `offset` of file
// `file` are the plaintext of blob `blob`.
struct BlobRef {
  Id blob;
  uint32_t file = 0;
  uint32_t length = 0;
  uint64_t offset = 0;
};

// A further name of an inode restored as files[file].
struct PlannedLink {
  uint32_t dir = 0;
  std::string name;
  uint32_t file = 0;
};

struct PlannedSpecial {
  uint32_t dir = 0;
  std::string name;
  repo::Node meta;  // metadata and, for a symlink, its target (for verification)
};

struct Plan {
  std::vector<PlannedFile> files;
  std::vector<PlannedLink> links;
  std::vector<PlannedSpecial> specials;
  std::vector<BlobRef> refs;   // sorted by (file, offset); files kept (present) included
  uint64_t content_bytes = 0;  // sum of refs' lengths, files kept excluded
};

// Where a restore starts: the snapshot's root directory, or the entry the
// subpath names.
struct RestoreRoot {
  repo::Node node;
  bool has_meta = false;  // false for a bare content tree (no "." node)
  std::string rel;        // path relative to the snapshot root; "" for the root
};

// Reads the snapshot's top tree and the trees down to `subpath` (from the
// primary repository, else another source). Throws Error naming what could
// not be read, or kNotFound if the subpath is not in the snapshot.
RestoreRoot find_root(const Sources& sources, const Id& top_tree, const std::string& subpath);

class Planner {
 public:
  // Trees are read from the primary repository of `sources` (neighbours in
  // one ranged read); a tree that cannot be read there comes from another.
  Planner(const Sources& sources, const RestoreOptions& options, DirTable& dirs, DirFds& dir_fds,
          Reporter& reporter);

  // Plans `root` into directory `dir` of the DirTable (0 = the target; a
  // batch gives each item a directory of its own, which is created here).
  // Throws Error(kNoSpace) if the target is full. Trouble with single
  // entries (unreadable subtrees, names that cannot be created) is reported
  // and counted.
  Plan run(RestoreRoot root, uint32_t dir = 0);

 private:
  struct Pending {
    uint32_t dir;
    Id tree;
    std::string rel;  // path of the directory relative to the snapshot root
    bool included;    // by an include pattern matching it or an ancestor
  };

  void walk(std::vector<Pending> start);
  void process_node(uint32_t dir, const std::string& rel, repo::Node& node, bool inherited,
                    std::vector<Pending>& pending);
  bool ensure_dir(uint32_t dir);
  uint32_t safe_mode(const repo::Node& node) const;
  void add_file(uint32_t dir, repo::Node& node);
  void add_special(uint32_t dir, repo::Node& node);
  bool already_complete(uint32_t dir, const repo::Node& node);

  const Sources& sources_;
  repo::Repository& repo_;  // the primary
  const RestoreOptions& options_;
  DirTable& dirs_;
  DirFds& dir_fds_;
  Reporter& reporter_;
  PathFilter filter_;
  const bool restore_owner_;  // owners are restored (asked for, and running as root)
  Plan plan_;
  // (device, inode) of files with several links -> index of the first one.
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> inodes_;
};

// The node without what the metadata pass does not need (content, names).
repo::Node metadata_only(repo::Node&& node);

}  // namespace lifeboat::restore
