// A parallel walk over the trees of many snapshots that loads each distinct
// tree once, however many snapshots (or directories) share it: the CMS core
// present in 500 accounts is one set of trees.
//
// The walk goes level by level (all roots, then all their subtrees, ...);
// each level's trees are visited in parallel on a pool, so a remote store's
// round trips overlap. Memory: the set of distinct trees reached, plus one
// level of pending ids.
//
// Ranks: every root carries a rank (e.g. an account's position in a restore
// order) and its subtrees inherit it. A tree is visited again only when it is
// reached with a strictly lower rank than any earlier visit, so once the walk
// ends every tree has been visited with the lowest rank that reaches it, and
// a visitor that keeps the lowest rank per blob learns which root needs each
// blob first. With all ranks equal (check) each distinct tree is visited
// exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "base/id.h"

namespace lifeboat::repo {

struct WalkItem {
  Id tree;
  uint32_t rank = 0;
};

struct TreeWalkOptions {
  size_t threads = 8;  // trees loaded at once (I/O-bound: more than the cores)
  // Called (on the calling thread) after each level, e.g. to process the
  // blobs that level found.
  std::function<void()> after_level;
};

// Visits one tree (on a pool thread; must be thread-safe): loads it however
// the caller likes and appends the subtrees to walk below it. Trouble with
// one tree belongs in the visitor's own bookkeeping: an exception stops the
// walk and is rethrown by walk_trees once the level's other visits ended.
using TreeVisitor = std::function<void(const WalkItem& item, std::vector<Id>& subtrees)>;

// Walks from `roots`; returns every tree reached with the lowest rank that
// reached it.
std::unordered_map<Id, uint32_t, IdHash> walk_trees(const std::vector<WalkItem>& roots,
                                                    const TreeVisitor& visit,
                                                    const TreeWalkOptions& options = {});

}  // namespace lifeboat::repo
