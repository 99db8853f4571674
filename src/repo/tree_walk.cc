#include "repo/tree_walk.h"

#include <algorithm>

#include "base/thread_pool.h"

namespace lifeboat::repo {

std::unordered_map<Id, uint32_t, IdHash> walk_trees(const std::vector<WalkItem>& roots,
                                                    const TreeVisitor& visit,
                                                    const TreeWalkOptions& options) {
  std::unordered_map<Id, uint32_t, IdHash> best;  // tree -> lowest rank visited with
  ThreadPool pool(std::max<size_t>(1, options.threads));
  std::vector<WalkItem> level = roots;
  while (!level.empty()) {
    // Lowest rank first, so a tree reached twice in one level is visited
    // once, with its lowest rank; sorted ids also read packs in order.
    std::sort(level.begin(), level.end(), [](const WalkItem& a, const WalkItem& b) {
      return a.rank != b.rank ? a.rank < b.rank : a.tree < b.tree;
    });
    std::vector<WalkItem> todo;
    for (const WalkItem& item : level) {
      auto [it, added] = best.try_emplace(item.tree, item.rank);
      if (!added) {
        if (it->second <= item.rank) continue;
        it->second = item.rank;
      }
      todo.push_back(item);
    }
    level.clear();
    level.shrink_to_fit();

    std::vector<std::vector<Id>> children(todo.size());
    for (size_t i = 0; i < todo.size(); ++i)
      pool.submit([&, i] { visit(todo[i], children[i]); });
    pool.wait();
    for (size_t i = 0; i < todo.size(); ++i)
      for (const Id& child : children[i]) level.push_back(WalkItem{child, todo[i].rank});
    if (options.after_level) options.after_level();
  }
  return best;
}

}  // namespace lifeboat::repo
