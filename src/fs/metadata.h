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
// extent {0, size}; a file that is all hole, or size 0, yields none.
// Filesystems without SEEK_HOLE support yield {0, size}. Extents are sorted,
// disjoint, never adjacent, and clipped to `size` (the file may be growing).
// The file offset of `fd` is left unspecified (use pread).
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
// socket). Directories and files are created by the restorer itself. Fifos,
// devices and sockets are created with mode 0600; apply_metadata sets the
// final mode. Throws lifeboat::Error naming the path (kAlreadyExists if
// something is there, kInvalidArgument for a file or directory node).
void create_special(const std::string& path, const repo::Node& node);

// Applies owner, xattrs, mode and times (in that order: chown clears setuid
// bits and capabilities, a read-only mode would refuse user.* xattrs to a
// non-root restore, and every change updates ctime/mtime) to an existing
// path, never following a final symlink; symlinks get owner, xattrs and times
// (Linux symlinks have no mode). Times are atime and mtime, ns precision.
// Throws lifeboat::Error naming the path; an owner change that fails throws
// too, so callers that are not root pass restore_owner = false.
void apply_metadata(const std::string& path, const repo::Node& node, const ApplyOptions& options);

// The same for a regular file or directory already open as `fd` (fchown,
// fchmod, fsetxattr, futimens). `path_for_messages` only names the file in
// errors.
void apply_metadata_fd(int fd, const std::string& path_for_messages, const repo::Node& node,
                       const ApplyOptions& options);

}  // namespace lifeboat::fs
