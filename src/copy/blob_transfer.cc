#include "copy/blob_transfer.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <unordered_map>

namespace lifeboat::copy {

void FlushPacer::maybe_flush(repo::Repository& dst, const repo::SaveTally& tally) {
  const uint64_t stored = tally.bytes_stored.load(std::memory_order_relaxed);
  if (stored < next_.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || stored < next_.load()) return;
  dst.flush();
  flushed_at(stored);
}

Bytes load_source_blob(const repo::Repository& src, repo::BlobType type, const Id& id) {
  try {
    return src.load_blob(type, id);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound || e.code() == ErrorCode::kCorrupt) throw SourceError(e);
    throw;
  }
}

namespace {

struct Located {
  uint32_t pack;  // ordinal, for sorting and for coalesce_reads
  repo::BlobLocation loc;
};

// Where each blob is in the source, sorted by pack and offset.
std::vector<Located> locate_all(const repo::Repository& src, const std::vector<Id>& ids) {
  std::unordered_map<Id, uint32_t, IdHash> ordinal;
  std::vector<Located> out;
  out.reserve(ids.size());
  for (const Id& id : ids) {
    auto loc = src.locate(id);
    if (!loc)
      throw SourceError(Error(ErrorCode::kNotFound,
                              "data blob " + id.hex() + " is in no index segment and no pack of " +
                                  src.location() + "; run 'lifeboat check' there"));
    auto [it, added] = ordinal.try_emplace(loc->pack, static_cast<uint32_t>(ordinal.size()));
    out.push_back(Located{it->second, std::move(*loc)});
  }
  std::sort(out.begin(), out.end(), [](const Located& a, const Located& b) {
    return a.pack != b.pack ? a.pack < b.pack : a.loc.entry.offset < b.loc.entry.offset;
  });
  return out;
}

}  // namespace

void transfer_blobs(const repo::Repository& src, repo::Repository& dst, std::vector<Id> ids,
                    const TransferOptions& options, repo::SaveTally& tally, FlushPacer& pacer) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Stored meanwhile (an earlier batch, another snapshot): nothing to read.
  // A copy in a pack a prune plans to delete does not count (can_reference).
  std::erase_if(ids, [&](const Id& id) { return dst.index().contains(id) && dst.can_reference(id); });
  if (ids.empty()) return;
  const std::vector<Located> blobs = locate_all(src, ids);
  ids.clear();
  ids.shrink_to_fit();

  std::vector<repo::BlobSpan> spans;
  spans.reserve(blobs.size());
  for (const Located& b : blobs)
    spans.push_back({b.pack, b.loc.entry.offset, b.loc.entry.stored_length});
  const std::vector<repo::ReadRange> ranges = repo::coalesce_reads(spans, options.limits);
  spans.clear();
  spans.shrink_to_fit();

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::exception_ptr first_error;
  auto stopping = [&] {
    return failed.load() || (options.stop != nullptr && options.stop->load());
  };
  auto work = [&] {
    try {
      for (size_t r; !stopping() && (r = next.fetch_add(1)) < ranges.size();) {
        const repo::ReadRange& range = ranges[r];
        std::vector<repo::BlobLocation> locs;
        for (size_t i = range.begin; i < range.end; ++i) locs.push_back(blobs[i].loc);
        std::vector<std::optional<Bytes>> got(locs.size());
        try {
          got = src.load_blobs_in_one_read(locs);
        } catch (const Error& e) {
          // A gone or short pack: each blob on its own, with load_blob's
          // fallbacks (another copy, the trailer).
          if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
        }
        for (size_t i = 0; i < locs.size(); ++i) {
          const repo::PackEntry& e = locs[i].entry;
          Bytes plain = got[i] ? std::move(*got[i]) : load_source_blob(src, e.type, e.id);
          dst.save_blob(e.type, e.id, plain, &tally);
        }
        pacer.maybe_flush(dst, tally);
      }
    } catch (...) {
      std::lock_guard lock(error_mu);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  const size_t n = std::max<size_t>(1, std::min(options.threads, ranges.size()));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace lifeboat::copy
