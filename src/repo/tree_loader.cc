#include "repo/tree_loader.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <unordered_set>

#include "base/error.h"
#include "base/thread_pool.h"

namespace lifeboat::repo {

std::vector<std::vector<size_t>> tree_read_runs(const Repository& repo, const std::vector<Id>& ids) {
  std::vector<std::vector<size_t>> runs;
  std::vector<std::pair<BlobLocation, size_t>> placed;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (auto loc = repo.locate(ids[i]))
      placed.emplace_back(*loc, i);
    else
      runs.push_back({i});
  }
  std::sort(placed.begin(), placed.end(), [](const auto& a, const auto& b) {
    return a.first.pack != b.first.pack ? a.first.pack < b.first.pack : a.first.entry.offset < b.first.entry.offset;
  });
  uint64_t run_start = 0, run_end = 0;
  for (size_t k = 0; k < placed.size(); ++k) {
    const auto& [loc, i] = placed[k];
    const uint64_t end = loc.entry.offset + loc.entry.stored_length;
    const bool joins = k > 0 && placed[k - 1].first.pack == loc.pack && loc.entry.offset >= run_end &&
                       loc.entry.offset - run_end <= kTreeReadGap && end - run_start <= kTreeReadMax;
    if (!joins) {
      runs.emplace_back();
      run_start = loc.entry.offset;
    }
    runs.back().push_back(i);
    run_end = end;
  }
  return runs;
}

void read_tree_run(const Repository& repo, const std::vector<Id>& ids, const std::vector<size_t>& run,
                   std::vector<LoadedTree>& out) {
  if (run.size() < 2) return;  // one tree: the caller's own load is as cheap
  std::vector<BlobLocation> locs;
  for (size_t i : run) locs.push_back(*repo.locate(ids[i]));
  try {
    auto blobs = repo.load_blobs_in_one_read(locs);
    for (size_t k = 0; k < run.size(); ++k) {
      if (!blobs[k]) continue;
      out[run[k]].plaintext = std::move(*blobs[k]);
      out[run[k]].ok = true;
    }
  } catch (const Error&) {
    // Each is loaded alone by the caller, with every fallback.
  }
}

namespace {

// Loads the trees of one run into `out` (indices as in the run).
void load_run(const Repository& repo, const std::vector<Id>& ids, const std::vector<size_t>& run,
              std::vector<LoadedTree>& out) {
  read_tree_run(repo, ids, run, out);
  for (size_t i : run) {
    if (out[i].ok) continue;
    try {
      out[i].plaintext = repo.load_blob(BlobType::kTree, ids[i]);
      out[i].ok = true;
    } catch (const Error& e) {
      out[i].failure = e;
    }
  }
}

}  // namespace

void walk_loaded_trees(const Repository& repo, const std::vector<Id>& roots, const LoadedTreeVisitor& visit,
                       size_t threads, const std::function<bool(const Id&)>& skip,
                       const std::function<void()>& after_slice) {
  std::unordered_set<Id, IdHash> seen;
  ThreadPool pool(std::max<size_t>(1, threads));
  std::vector<Id> level;
  for (const Id& r : roots)
    if (seen.insert(r).second && !(skip && skip(r))) level.push_back(r);
  // A level is loaded in slices, so memory holds at most one slice of
  // plaintexts (trees are small; a slice of 4096 is a few MiB).
  constexpr size_t kSlice = 4096;
  while (!level.empty()) {
    std::vector<Id> next;
    for (size_t from = 0; from < level.size(); from += kSlice) {
      std::vector<Id> ids(level.begin() + static_cast<ptrdiff_t>(from),
                          level.begin() + static_cast<ptrdiff_t>(std::min(level.size(), from + kSlice)));
      std::vector<LoadedTree> loaded(ids.size());
      std::vector<std::vector<Id>> children(ids.size());
      std::mutex mu;
      std::exception_ptr failure;
      for (const auto& run : tree_read_runs(repo, ids)) {
        pool.submit([&, run] {
          try {
            load_run(repo, ids, run, loaded);
            for (size_t i : run) {
              visit(ids[i], loaded[i], children[i]);
              loaded[i] = LoadedTree{};  // free the plaintext early
            }
          } catch (...) {
            std::lock_guard lock(mu);
            if (!failure) failure = std::current_exception();
          }
        });
      }
      pool.wait();
      if (failure) std::rethrow_exception(failure);
      for (auto& c : children)
        for (const Id& child : c)
          if (seen.insert(child).second && !(skip && skip(child))) next.push_back(child);
      if (after_slice) after_slice();
    }
    std::sort(next.begin(), next.end());
    level = std::move(next);
  }
}

}  // namespace lifeboat::repo
