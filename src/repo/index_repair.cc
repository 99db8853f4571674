#include "repo/index_repair.h"

#include <algorithm>
#include <mutex>
#include <optional>

#include "base/error.h"
#include "base/thread_pool.h"
#include "repo/pack_reader.h"

namespace lifeboat::repo {
namespace {

constexpr size_t kPacksPerSegment = 64;

}  // namespace

IndexRepairResult repair_index(Repository& repo, const IndexRepairOptions& options) {
  IndexRepairResult result;
  result.segments_skipped = repo.load_index();
  std::vector<std::pair<Id, uint64_t>> todo;
  repo.backend().list(backend::ObjectType::kData, [&](std::string_view name, uint64_t size) {
    auto id = Id::from_hex(name);
    if (!id) return;
    ++result.packs;
    if (repo.index().has_pack(*id)) {
      ++result.packs_listed;
      if (!options.full) return;
    }
    todo.emplace_back(*id, size);
  });
  // Sorted, so a resumed run and a first run read packs in the same order.
  std::sort(todo.begin(), todo.end());

  std::mutex mu;
  uint64_t done = 0;
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
    // One durable segment per batch: a kill loses at most one batch of work.
    std::vector<PackInfo> segment;
    for (auto& info : read)
      if (info) {
        result.blobs += info->entries.size();
        segment.push_back(std::move(*info));
      }
    if (segment.empty()) continue;
    repo.save_index_segment(segment);
    result.packs_read += segment.size();
    ++result.segments_written;
  }
  std::sort(result.unreadable.begin(), result.unreadable.end());
  return result;
}

}  // namespace lifeboat::repo
