#include "repo/tree_walk.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <stdexcept>

namespace lifeboat::repo {
namespace {

Id id(uint8_t n) {
  Id i;
  i.bytes[0] = n;
  return i;
}

// A directory graph without a repository: tree -> subtrees.
struct Graph {
  std::map<Id, std::vector<Id>> children;
  std::mutex mu;
  std::vector<WalkItem> visits;
  TreeVisitor visitor() {
    return [this](const WalkItem& item, std::vector<Id>& subtrees) {
      std::lock_guard lock(mu);
      visits.push_back(item);
      auto it = children.find(item.tree);
      if (it != children.end()) subtrees = it->second;
    };
  }
  size_t visits_of(const Id& tree) {
    size_t n = 0;
    for (const auto& v : visits) n += v.tree == tree;
    return n;
  }
};

TEST(TreeWalk, VisitsEachDistinctTreeOnceWithEqualRanks) {
  Graph g;
  // Two roots sharing subtree 3 (and 3's child 4), 4 also reached at depth 1 of root 2.
  g.children[id(1)] = {id(3), id(5)};
  g.children[id(2)] = {id(3), id(4)};
  g.children[id(3)] = {id(4)};
  int levels = 0;
  TreeWalkOptions o;
  o.threads = 3;
  o.after_level = [&] { ++levels; };
  auto seen = walk_trees({{id(1), 0}, {id(2), 0}, {id(1), 0}}, g.visitor(), o);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(g.visits.size(), 5u);
  for (uint8_t t = 1; t <= 5; ++t) EXPECT_EQ(g.visits_of(id(t)), 1u) << int(t);
  EXPECT_EQ(levels, 3);
}

TEST(TreeWalk, RevisitsOnlyWhenReachedWithALowerRank) {
  Graph g;
  // Rank 5 reaches shared tree 9 at depth 1; rank 1 reaches it only at depth 2.
  g.children[id(1)] = {id(9)};
  g.children[id(2)] = {id(3)};
  g.children[id(3)] = {id(9)};
  g.children[id(9)] = {id(10)};
  auto seen = walk_trees({{id(1), 5}, {id(2), 1}}, g.visitor());
  EXPECT_EQ(seen.at(id(9)), 1u);
  EXPECT_EQ(seen.at(id(10)), 1u);
  EXPECT_EQ(seen.at(id(1)), 5u);
  EXPECT_EQ(g.visits_of(id(9)), 2u);   // first with rank 5, again with rank 1
  EXPECT_EQ(g.visits_of(id(10)), 2u);
  // A higher rank arriving later does not cause another visit.
  Graph h;
  h.children = g.children;
  walk_trees({{id(1), 1}, {id(2), 5}}, h.visitor());
  EXPECT_EQ(h.visits_of(id(9)), 1u);
}

TEST(TreeWalk, AVisitorExceptionStopsTheWalk) {
  Graph g;
  g.children[id(1)] = {id(2)};
  EXPECT_THROW(walk_trees({{id(1), 0}},
                          [](const WalkItem&, std::vector<Id>&) { throw std::runtime_error("x"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace lifeboat::repo
