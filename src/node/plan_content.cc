// measure_content: what a whole-node restore fetches. Walks the trees of
// every account's chosen snapshot at once (repo::walk_trees: each distinct
// tree loaded once, in parallel, ranked by the smallest-first order), keeps
// for each distinct blob the first account that needs it, then lays the
// blobs out as the restore reads them: by account in that order, by pack and
// offset, coalesced into ranged reads.
//
// Memory: the set of distinct blob ids (with their rank) and distinct trees,
// then one compact entry per distinct blob; nothing per file.
#include <algorithm>
#include <mutex>
#include <random>
#include <unordered_map>

#include "node/plan.h"
#include "repo/tree_walk.h"
#include "restore/retry.h"

namespace lifeboat::node {
namespace {

// A needed blob where the index puts it, with the rank of the first account
// that needs it.
struct Placed {
  uint32_t rank;
  uint32_t pack;  // ordinal in `packs`
  uint32_t offset;
  uint32_t stored_length;
  uint32_t raw_length;
};

// Keeps a uniform random sample of at most `cap` items of a stream
// (reservoir sampling), with a fixed seed so a plan is repeatable.
class Reservoir {
 public:
  explicit Reservoir(size_t cap) : cap_(cap) {}
  void offer(const ProbeRange& r) {
    ++seen_;
    if (items_.size() < cap_) {
      items_.push_back(r);
    } else if (cap_ > 0) {
      uint64_t j = std::uniform_int_distribution<uint64_t>(0, seen_ - 1)(rng_);
      if (j < cap_) items_[j] = r;
    }
  }
  std::vector<ProbeRange> take() {
    std::shuffle(items_.begin(), items_.end(), rng_);
    return std::move(items_);
  }

 private:
  size_t cap_;
  uint64_t seen_ = 0;
  std::vector<ProbeRange> items_;
  std::mt19937_64 rng_{0x6c6966656230ULL};
};

}  // namespace

void measure_content(repo::Repository& repo, RepoPlan& plan, const PlanOptions& options) {
  // Ranks: the smallest-first order select_snapshots set.
  std::vector<AccountPlan*> by_rank(plan.content.restorable, nullptr);
  std::vector<repo::WalkItem> roots;
  for (AccountPlan& a : plan.accounts) {
    if (a.missing) continue;
    by_rank.at(a.order) = &a;
    roots.push_back({a.tree, static_cast<uint32_t>(a.order)});
  }

  // 1. Walk: distinct trees, and the lowest rank needing each blob.
  std::mutex mu;
  std::unordered_map<Id, uint32_t, IdHash> blob_rank;
  uint64_t unreadable = 0;
  std::string first_error;
  auto visit = [&](const repo::WalkItem& item, std::vector<Id>& subtrees) {
    repo::Tree tree;
    try {
      tree = restore::with_retries(restore::RetryPolicy{},
                                   [&] { return repo.load_tree(item.tree); });
    } catch (const Error& e) {
      std::lock_guard lock(mu);
      if (unreadable++ == 0) first_error = e.message();
      return;
    }
    std::vector<Id> blobs;
    for (const repo::Node& n : tree.nodes) {
      if (n.type == repo::NodeType::kFile) {
        for (const repo::ContentPart& part : n.content)
          if (!part.is_hole()) blobs.push_back(part.blob);
      } else if (n.type == repo::NodeType::kDir && !n.subtree.is_zero()) {
        subtrees.push_back(n.subtree);
      }
    }
    uint64_t new_blobs = 0;
    {
      std::lock_guard lock(mu);
      for (const Id& b : blobs) {
        auto [it, added] = blob_rank.try_emplace(b, item.rank);
        new_blobs += added;
        if (!added && item.rank < it->second) it->second = item.rank;
      }
    }
    if (options.progress) {
      options.progress->trees.fetch_add(1, std::memory_order_relaxed);
      options.progress->blobs.fetch_add(new_blobs, std::memory_order_relaxed);
    }
  };
  repo::TreeWalkOptions walk;
  walk.threads = options.walk_threads;
  auto tree_rank = repo::walk_trees(roots, visit, walk);

  ContentTotals& c = plan.content;
  c.unreadable_trees = unreadable;
  if (unreadable > 0)
    plan.warnings.push_back(std::to_string(unreadable) +
                            " trees could not be read (first: " + first_error +
                            "); what lies below them is not counted. Run 'lifeboat check'");

  // 2. Trees: what planning the restore reads.
  for (const auto& [id, rank] : tree_rank) {
    auto loc = repo.index().find(id);
    if (!loc) continue;  // counted as unreadable by the walk
    by_rank[rank]->trees++;
    by_rank[rank]->tree_bytes += loc->entry.stored_length;
  }
  c.trees = tree_rank.size();
  tree_rank = {};

  // 3. Blobs where the index puts them.
  std::vector<Placed> placed;
  placed.reserve(blob_rank.size());
  std::unordered_map<Id, uint32_t, IdHash> pack_ordinal;
  std::vector<Id> packs;
  for (const auto& [id, rank] : blob_rank) {
    auto loc = repo.index().find(id);
    if (!loc || loc->entry.type != repo::BlobType::kData) {
      ++c.missing_blobs;
      continue;
    }
    auto [p, added] = pack_ordinal.try_emplace(loc->pack, static_cast<uint32_t>(packs.size()));
    if (added) packs.push_back(loc->pack);
    placed.push_back(Placed{rank, p->second, loc->entry.offset, loc->entry.stored_length,
                            loc->entry.raw_length});
  }
  blob_rank = {};
  pack_ordinal = {};
  if (c.missing_blobs > 0)
    plan.warnings.push_back(std::to_string(c.missing_blobs) +
                            " content blobs are not in the index; files holding them would "
                            "not be restored completely. Run 'lifeboat check'");

  // 4. The restore's reads: per account in order, by pack and offset.
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    if (a.pack != b.pack) return a.pack < b.pack;
    return a.offset < b.offset;
  });
  Reservoir sample(options.probe_sample);
  std::vector<repo::BlobSpan> spans;
  for (size_t i = 0; i < placed.size();) {
    size_t j = i;
    while (j < placed.size() && placed[j].rank == placed[i].rank) ++j;
    AccountPlan& a = *by_rank[placed[i].rank];
    spans.clear();
    for (size_t k = i; k < j; ++k) {
      spans.push_back({placed[k].pack, placed[k].offset, placed[k].stored_length});
      a.blobs++;
      a.unique_bytes += placed[k].raw_length;
      a.stored_bytes += placed[k].stored_length;
    }
    for (const repo::ReadRange& r : repo::coalesce_reads(spans, options.model.ranges)) {
      a.ranges++;
      a.read_bytes += r.length;
      sample.offer(ProbeRange{packs[r.pack], r.offset, r.length});
    }
    i = j;
  }
  c.packs = packs.size();
  for (const AccountPlan* a : by_rank) {
    c.blobs += a->blobs;
    c.unique_bytes += a->unique_bytes;
    c.stored_bytes += a->stored_bytes;
    c.ranges += a->ranges;
    c.read_bytes += a->read_bytes;
    c.tree_bytes += a->tree_bytes;
  }
  plan.probe_ranges = sample.take();
}

}  // namespace lifeboat::node
