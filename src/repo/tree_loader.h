// Loading many trees with few reads: trees of one pack that lie close
// together are read with one ranged read (Repository::load_blobs_in_one_read)
// instead of one request each — what makes a walk over every tree of a
// remote repository (prune, copy, restore's plan) take hundreds of requests
// instead of tens of thousands. Any tree such a read does not deliver is
// loaded alone, with every fallback of Repository::load_blob.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"

namespace lifeboat::repo {

// Reads joined into one: trees at most this far apart, at most this much.
inline constexpr uint64_t kTreeReadGap = 256 << 10;
inline constexpr uint64_t kTreeReadMax = 8 << 20;

// Groups `ids` into runs that one ranged read can serve (indices into
// `ids`): trees in one pack, sorted by offset, close together. A tree the
// index does not place is a run of its own.
std::vector<std::vector<size_t>> tree_read_runs(const Repository& repo, const std::vector<Id>& ids);

// A tree's plaintext, or why it could not be read.
struct LoadedTree {
  Bytes plaintext;
  bool ok = false;
  std::optional<Error> failure;  // when !ok: what load_blob threw
};

// Reads the trees of one run (indices into `ids`) with one ranged read and
// fills the entries of `out` that verify; the others stay !ok for the
// caller's own fallback (Repository::load_blob, or another repository).
void read_tree_run(const Repository& repo, const std::vector<Id>& ids, const std::vector<size_t>& run,
                   std::vector<LoadedTree>& out);

// Walks every tree reachable from `roots`, level by level, each distinct
// tree once, loading each level with tree_read_runs on `threads` threads.
// `visit` runs on those threads (thread-safe), gets the tree's plaintext
// (or its error) and appends the subtrees to walk; `skip` (optional) leaves
// a tree out before it is read (walked earlier); `after_slice` (optional)
// runs on the calling thread after every slice of at most 4096 trees (e.g.
// to send the blobs found so far). Throws what `visit` throws.
using LoadedTreeVisitor = std::function<void(const Id& tree, const LoadedTree& loaded, std::vector<Id>& subtrees)>;
void walk_loaded_trees(const Repository& repo, const std::vector<Id>& roots, const LoadedTreeVisitor& visit,
                       size_t threads = 8, const std::function<bool(const Id&)>& skip = {},
                       const std::function<void()>& after_slice = {});

}  // namespace lifeboat::repo
