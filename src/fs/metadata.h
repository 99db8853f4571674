// Capturing and applying file metadata: the only place that knows how Linux
// represents modes, owners, times, xattrs, device numbers and holes.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "repo/tree.h"

namespace lifeboat::fs {

// Fills every field of a repo::Node from lstat data and the file itself,
// except `name`, `content` and `subtree`. `path` is used for xattrs and
// symlink targets. Throws lifeboat::Error naming the path on failure; xattrs
// that the filesystem does not support are silently absent (ENOTSUP).
repo::Node capture_node(const std::string& path, const struct stat& st);

// Reads the extended attributes of `path` (not following symlinks), sorted
// by name. Returns empty if the filesystem does not support xattrs.
std::vector<repo::Xattr> read_xattrs(const std::string& path);

// Data extents of an open regular file, found with SEEK_DATA/SEEK_HOLE:
// everything outside the extents is a hole. A file without holes yields one
// extent {0, size}. Filesystems without SEEK_HOLE support yield {0, size}.
struct Extent {
  uint64_t offset;
  uint64_t length;
};
std::vector<Extent> data_extents(int fd, uint64_t size);

struct ApplyOptions {
  bool restore_owner = true;   // chown to numeric uid/gid (only works as root)
  bool restore_xattrs = true;
};

// Creates a non-regular, non-directory node at `path` (symlink, fifo, device,
// socket). Directories and files are created by the restorer itself.
void create_special(const std::string& path, const repo::Node& node);

// Applies owner, mode, xattrs and times (in that order: chown clears setuid
// bits, and every change updates ctime/mtime) to an existing path; symlinks
// get owner and times only. Throws lifeboat::Error naming the path.
void apply_metadata(const std::string& path, const repo::Node& node, const ApplyOptions& options);

}  // namespace lifeboat::fs
