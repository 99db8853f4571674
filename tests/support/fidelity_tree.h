// A generated directory tree that exercises every point of backup/restore
// fidelity: sizes, duplicate content, modes (setuid/setgid/sticky), ns times
// (1960, 1999, 2030), symlinks of every kind, hard links, sparse files,
// xattrs with binary values, byte-string names, depth, fifos, sockets and,
// when running as root, foreign owners and device nodes.
//
// Everything is deterministic for a seed (contents, times); the structure is
// the same for every seed. Times of directories are set last, after their
// children exist. Root-only parts are skipped silently when not root, and
// xattrs are skipped silently where the filesystem refuses user.* xattrs.
#pragma once

#include <cstdint>
#include <string>

namespace lifeboat::test {

struct FidelityOptions {
  // Apparent size of sparse/holes.bin: a few KiB of data with holes at the
  // start, in the middle and at the end. At least 1 MiB. 10 GiB is fine.
  uint64_t big_sparse_bytes = 64ull << 20;
  // Include files/random_9m (9 MiB of random bytes).
  bool big_random_file = true;
  // As root: files owned by other uids/gids and device nodes.
  bool owners_and_devices = true;
};

// Creates the tree under `root`, which must not exist or be an empty
// directory. Throws lifeboat::Error on failure.
void make_fidelity_tree(const std::string& root, uint64_t seed, const FidelityOptions& opts = {});

// Some of the paths make_fidelity_tree creates, relative to its root, for
// tests that want to poke at specific fidelity points.
namespace fidelity_paths {
inline constexpr const char* kMibPlus17 = "files/mib_plus_17";
inline constexpr const char* kMode0600 = "modes/m0600";
inline constexpr const char* kSetuid = "modes/setuid_04755";
inline constexpr const char* kOld1999 = "times/old_1999";
inline constexpr const char* kPairA = "hardlinks/pair_a";
inline constexpr const char* kPairB = "hardlinks/pair_b";
inline constexpr const char* kTriple1 = "hardlinks/triple_1";
inline constexpr const char* kTriple2 = "dup/a/triple_2";
inline constexpr const char* kTriple3 = "hardlinks/sub/triple_3";
inline constexpr const char* kSparse = "sparse/holes.bin";
inline constexpr const char* kAllHole = "sparse/all_hole.bin";
inline constexpr const char* kXattrFile = "xattrs/file";
inline constexpr const char* kXattrDir = "xattrs/dir";
inline constexpr const char* kBadUtf8Name = "names/\xff\xfe bad";
inline constexpr const char* kRelativeLink = "links/relative";
inline constexpr const char* kBadUtf8Link = "links/bad_utf8_target";
inline constexpr const char* kFifo = "special/fifo";
inline constexpr const char* kCharDevice = "special/null_c_1_3";  // root only
inline constexpr const char* kOwned1001 = "owners/f1001";         // root only
}  // namespace fidelity_paths

}  // namespace lifeboat::test
