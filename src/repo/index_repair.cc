#include "repo/index_repair.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "base/thread_pool.h"
#include "repo/pack_reader.h"

namespace lifeboat::repo {
namespace {

using backend::ObjectType;

constexpr size_t kPacksPerSegment = 64;

// What one segment says about one pack, compared without keeping the
// entries themselves (the index may be large).
uint64_t digest(const PackInfo& pack) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(pack.salt.data(), pack.salt.size());
  uint8_t encoded[kTrailerEntrySize];
  for (const PackEntry& e : pack.entries) {
    encode_pack_entry(e, encoded);
    mix(encoded, sizeof encoded);
  }
  return h;
}

struct SegmentSummary {
  std::vector<std::pair<Id, uint64_t>> packs;  // pack, digest of its listing
};

}  // namespace

IndexRepairResult repair_index(Repository& repo, const IndexRepairOptions& options) {
  IndexRepairResult result;
  std::map<std::string, SegmentSummary> segments;
  result.segments_skipped =
      repo.load_index([&](const std::string& name, const std::vector<PackInfo>& packs) {
        SegmentSummary& s = segments[name];
        for (const PackInfo& p : packs) s.packs.emplace_back(p.id, digest(p));
      });
  std::sort(result.segments_skipped.begin(), result.segments_skipped.end());

  std::unordered_set<Id, IdHash> present;
  std::vector<std::pair<Id, uint64_t>> todo;
  repo.backend().list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
    auto id = Id::from_hex(name);
    if (!id) return;
    ++result.packs;
    present.insert(*id);
    if (repo.index().has_pack(*id)) {
      ++result.packs_listed;
      if (!options.full) return;
    }
    todo.emplace_back(*id, size);
  });
  // Sorted, so a resumed run and a first run read packs in the same order.
  std::sort(todo.begin(), todo.end());

  // 1. Index what no segment lists (everything with --full), a durable
  //    segment per batch: a kill loses at most one batch of work.
  std::mutex mu;
  uint64_t done = 0;
  std::unordered_map<Id, uint64_t, IdHash> reindexed;  // pack -> digest of its trailer
  if (options.on_progress) options.on_progress(0, todo.size());
  ThreadPool pool(std::max<size_t>(1, options.threads));
  for (size_t start = 0; start < todo.size(); start += kPacksPerSegment) {
    const size_t end = std::min(todo.size(), start + kPacksPerSegment);
    std::vector<std::optional<PackInfo>> read(end - start);
    for (size_t i = start; i < end; ++i)
      pool.submit([&, i] {
        std::optional<PackInfo> info;
        std::string error;
        try {
          info = read_pack_trailer(repo.backend(), repo.keys().encryption, todo[i].first,
                                   todo[i].second);
        } catch (const Error& e) {
          error = e.message();
        }
        std::lock_guard lock(mu);
        if (info) {
          read[i - start] = std::move(info);
        } else {
          result.unreadable.push_back(todo[i].first.hex());
          repo.warn("pack " + todo[i].first.hex() + ": " + error + "; not indexed");
        }
        ++done;
        if (options.on_progress) options.on_progress(done, todo.size());
      });
    pool.wait();
    std::vector<PackInfo> segment;
    for (auto& info : read)
      if (info) {
        result.blobs += info->entries.size();
        segment.push_back(std::move(*info));
      }
    if (segment.empty()) continue;
    repo.save_index_segment(segment);
    for (const PackInfo& p : segment) reindexed.emplace(p.id, digest(p));
    result.packs_read += segment.size();
    ++result.segments_written;
  }

  // 2. Segments that mislead: listing packs that are gone, or (having read
  //    every trailer) listing a pack differently from its trailer.
  std::vector<std::string> stale;
  std::unordered_set<Id, IdHash> gone, mismatched;
  for (const auto& [name, summary] : segments) {
    bool bad = false;
    for (const auto& [pack, d] : summary.packs) {
      if (!present.count(pack)) {
        gone.insert(pack);
        bad = true;
      } else if (auto it = reindexed.find(pack); it != reindexed.end() && it->second != d) {
        mismatched.insert(pack);
        bad = true;
      }
    }
    if (bad) stale.push_back(name);
  }
  for (const Id& p : gone) result.packs_gone.push_back(p.hex());
  for (const Id& p : mismatched) result.packs_mismatched.push_back(p.hex());
  std::sort(result.packs_gone.begin(), result.packs_gone.end());
  std::sort(result.packs_mismatched.begin(), result.packs_mismatched.end());

  // 3. Replace them: what they say rightly about packs not indexed again
  //    above goes into a new durable segment first, then the old one goes.
  auto remove_segment = [&](const std::string& name) {
    try {
      repo.backend().remove({ObjectType::kIndex, name});
      result.segments_replaced.push_back(name);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return;  // another run removed it
      result.segments_left.push_back(name);
      repo.warn("index segment " + name + " could not be removed (" + e.message() +
                "); it stays, and readers fall back past what it gets wrong");
    }
  };
  for (const std::string& name : stale) {
    std::vector<PackInfo> keep;
    try {
      Bytes sealed = repo.backend().load({ObjectType::kIndex, name}, 0, 0);
      for (PackInfo& p : decode_index_segment(repo.keys().encryption, sealed, name))
        if (present.count(p.id) && !reindexed.count(p.id)) keep.push_back(std::move(p));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) continue;  // another run replaced it
      if (e.code() != ErrorCode::kCorrupt) throw;
      // Readable a moment ago: leave it for the next run rather than guess.
      repo.warn("index segment " + name + " changed while being repaired: " + e.message());
      continue;
    }
    if (!keep.empty()) {
      repo.save_index_segment(keep);
      ++result.segments_written;
    }
    remove_segment(name);
  }
  // Unreadable segments: every pack they could have listed was unlisted
  // above, so it was read and indexed (or is unreadable, which the segment
  // could not have helped).
  for (const std::string& name : result.segments_skipped) remove_segment(name);

  std::sort(result.unreadable.begin(), result.unreadable.end());
  std::sort(result.segments_replaced.begin(), result.segments_replaced.end());
  return result;
}

}  // namespace lifeboat::repo
