#include "restore/content.h"

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/error.h"

namespace lifeboat::restore {

using backend::ObjectType;

namespace {
// BlobRef::length of a place plan() decided not to write.
constexpr uint32_t kSkipped = UINT32_MAX;
// The most plaintext of one range decoded at once to write it file by file.
constexpr uint64_t kMaxDecodedRange = 64u << 20;
}  // namespace

// std::counting_semaphore needs a compile-time maximum; this one does not.
struct ContentRestorer::Semaphore {
  explicit Semaphore(size_t n) : free(n) {}
  void acquire() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return free > 0; });
    --free;
  }
  void release() {
    std::lock_guard lock(mu);
    ++free;
    cv.notify_one();
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t free;
};

ContentRestorer::ContentRestorer(repo::Repository& repo, FileTable& files, Reporter& reporter,
                                 ContentOptions options)
    : repo_(repo), files_(files), reporter_(reporter), options_(options) {}

void ContentRestorer::plan(std::vector<BlobRef> refs, const std::vector<uint32_t>* file_rank) {
  refs_ = std::move(refs);
  std::sort(refs_.begin(), refs_.end(), [](const BlobRef& a, const BlobRef& b) {
    if (a.blob != b.blob) return a.blob < b.blob;
    if (a.file != b.file) return a.file < b.file;
    return a.offset < b.offset;
  });

  std::vector<uint32_t> parts(files_.size(), 0);
  std::unordered_map<Id, uint32_t, IdHash> pack_index;
  for (size_t i = 0; i < refs_.size();) {
    size_t j = i;
    while (j < refs_.size() && refs_[j].blob == refs_[i].blob) ++j;
    const Id& blob = refs_[i].blob;
    auto loc = repo_.locate(blob);
    if (!loc || loc->entry.type != repo::BlobType::kData) {
      for (size_t k = i; k < j; ++k) {
        if (k > i && refs_[k].file == refs_[k - 1].file) continue;  // one message per file
        files_.mark_failed(refs_[k].file,
                           "content blob " + blob.hex() + " (" + std::to_string(refs_[k].length) +
                               " bytes at offset " + std::to_string(refs_[k].offset) +
                               ") is in no index segment and no pack of the repository; the "
                               "file is incomplete. Run 'lifeboat check' to see what else is "
                               "affected");
      }
      i = j;
      continue;
    }
    auto [p, added] = pack_index.emplace(loc->pack, static_cast<uint32_t>(packs_.size()));
    if (added) packs_.emplace_back(loc->pack, loc->salt);
    uint32_t rank = 0;
    if (file_rank) {
      rank = UINT32_MAX;
      for (size_t k = i; k < j; ++k) rank = std::min(rank, (*file_rank)[refs_[k].file]);
    }
    blobs_.push_back(BlobJob{loc->entry, rank, p->second, static_cast<uint32_t>(i),
                             static_cast<uint32_t>(j)});
    for (size_t k = i; k < j; ++k) {
      if (refs_[k].length != loc->entry.raw_length) {
        files_.mark_failed(refs_[k].file, "the snapshot says blob " + blob.hex() + " has " +
                                              std::to_string(refs_[k].length) +
                                              " bytes, the index says " +
                                              std::to_string(loc->entry.raw_length) +
                                              "; that part of the file is not restored");
        refs_[k].length = kSkipped;
        continue;
      }
      ++parts[refs_[k].file];
    }
    i = j;
  }
  for (uint32_t f = 0; f < parts.size(); ++f) files_.expect_parts(f, parts[f]);

  form_ranges();
}

void ContentRestorer::form_ranges() {
  const size_t n = blobs_.size();
  auto offset = [&](uint32_t b) { return uint64_t{blobs_[b].entry.offset}; };
  auto end = [&](uint32_t b) { return offset(b) + blobs_[b].entry.stored_length; };
  // Each pack's blobs in offset order, and where each blob is in it.
  std::vector<uint32_t> by_pack(n), pos(n), order(n);
  for (uint32_t b = 0; b < n; ++b) by_pack[b] = order[b] = b;
  std::sort(by_pack.begin(), by_pack.end(), [&](uint32_t a, uint32_t b) {
    return blobs_[a].pack != blobs_[b].pack ? blobs_[a].pack < blobs_[b].pack
                                            : offset(a) < offset(b);
  });
  for (uint32_t k = 0; k < n; ++k) pos[by_pack[k]] = k;
  // Ranges are started in rank order, so the first items' content comes first.
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (blobs_[a].rank != blobs_[b].rank) return blobs_[a].rank < blobs_[b].rank;
    return pos[a] < pos[b];
  });

  std::vector<bool> taken(n, false);
  std::vector<BlobJob> ranged;  // blobs_ regrouped: each range's blobs together, by offset
  ranged.reserve(n);
  std::vector<uint32_t> members, skipped;
  for (uint32_t b : order) {
    if (taken[b]) continue;
    // Extend over the next blobs of the pack with the same rank while the
    // unneeded bytes between stay small. Blobs of later ranks lying between
    // are read anyway: they join the range (written now, never fetched
    // again), as do all of them once the range reaches past them.
    members.assign(1, b);
    skipped.clear();
    uint64_t skipped_bytes = 0;  // of `skipped`: needed, so not counted as a gap
    const uint64_t r_offset = offset(b);
    uint64_t r_end = end(b);
    for (uint32_t k = pos[b] + 1; k < n && blobs_[by_pack[k]].pack == blobs_[b].pack; ++k) {
      const uint32_t c = by_pack[k];
      if (taken[c]) break;  // in an earlier range: do not read it twice
      if (offset(c) - r_end - skipped_bytes > options_.max_gap ||
          end(c) - r_offset > options_.max_range)
        break;
      if (blobs_[c].rank == blobs_[b].rank) {
        members.insert(members.end(), skipped.begin(), skipped.end());
        skipped.clear();
        skipped_bytes = 0;
        members.push_back(c);
        r_end = end(c);
      } else {
        skipped.push_back(c);
        skipped_bytes += blobs_[c].entry.stored_length;
      }
    }
    const uint32_t first = static_cast<uint32_t>(ranged.size());
    for (uint32_t m : members) {
      taken[m] = true;
      ranged.push_back(blobs_[m]);
    }
    ranges_.push_back(Range{blobs_[b].pack, r_offset, r_end - r_offset, first,
                            static_cast<uint32_t>(ranged.size())});
  }
  blobs_ = std::move(ranged);
}

void ContentRestorer::run(const std::function<void()>& side_work) {
  const size_t inflight = std::max<size_t>(1, options_.max_inflight);
  Semaphore slots(inflight);
  BoundedQueue<Fetched> queue(inflight + 1);  // never full: slots bound what is in it

  // A thread that throws would end the process; turn anything unexpected
  // into a fatal error of this run instead.
  auto guarded = [this](auto&& body) {
    return [this, body] {
      try {
        body();
      } catch (const Error& e) {
        reporter_.fatal(e);
      } catch (const std::exception& e) {
        reporter_.fatal(Error(ErrorCode::kInternal, std::string("restore: ") + e.what()));
      }
    };
  };

  std::vector<std::thread> fetchers, workers;
  for (size_t i = 0; i < std::max<size_t>(1, options_.worker_threads); ++i)
    workers.emplace_back(guarded([&] { work_loop(slots, queue); }));
  for (size_t i = 0; i < std::max<size_t>(1, options_.fetch_threads); ++i)
    fetchers.emplace_back(guarded([&] { fetch_loop(slots, queue); }));
  guarded(side_work)();
  for (auto& t : fetchers) t.join();
  queue.close();
  for (auto& t : workers) t.join();
}

void ContentRestorer::fetch_loop(Semaphore& slots, BoundedQueue<Fetched>& queue) {
  for (;;) {
    slots.acquire();
    const size_t r = next_range_.fetch_add(1);
    if (r >= ranges_.size() || reporter_.aborted()) {
      slots.release();
      return;
    }
    const Range& range = ranges_[r];
    Fetched item{range.pack, range.offset, range.blobs_begin, range.blobs_end, {}, {}};
    try {
      item.data = load(range.pack, range.offset, range.length);
    } catch (const Error& e) {
      if (range.blobs_end - range.blobs_begin == 1) {
        item.error = e;
      } else {
        // Read its blobs one by one: damage then costs only what it touches.
        slots.release();
        for (uint32_t b = range.blobs_begin; b < range.blobs_end; ++b) {
          slots.acquire();
          if (reporter_.aborted()) {
            slots.release();
            return;
          }
          const repo::PackEntry& entry = blobs_[b].entry;
          Fetched one{range.pack, entry.offset, b, b + 1, {}, {}};
          try {
            one.data = load(range.pack, entry.offset, entry.stored_length);
          } catch (const Error& e2) {
            one.error = e2;
          }
          queue.push(std::move(one));
        }
        continue;
      }
    }
    queue.push(std::move(item));
  }
}

Bytes ContentRestorer::load(uint32_t pack, uint64_t offset, uint64_t length) {
  const backend::Handle handle{ObjectType::kData, packs_[pack].first.hex()};
  Bytes data =
      with_retries(options_.retry, [&] { return repo_.backend().load(handle, offset, length); });
  if (data.size() != length)
    throw Error(ErrorCode::kCorrupt,
                "short read from pack " + handle.name + ": " + std::to_string(data.size()) +
                    " of " + std::to_string(length) + " bytes at offset " + std::to_string(offset));
  bytes_read_.fetch_add(length, std::memory_order_relaxed);
  return data;
}

void ContentRestorer::work_loop(Semaphore& slots, BoundedQueue<Fetched>& queue) {
  Bytes out, scratch;
  // Never leaves before the queue is drained: fetchers wait for the slots
  // this loop releases.
  while (auto item = queue.pop()) {
    if (!reporter_.aborted()) {
      try {
        write_range(*item, out, scratch);
      } catch (const Error& e) {
        reporter_.fatal(e);
      } catch (const std::exception& e) {
        reporter_.fatal(Error(ErrorCode::kInternal, std::string("restore: ") + e.what()));
      }
    }
    item->data = Bytes();  // free before the next range is fetched
    slots.release();
  }
}

void ContentRestorer::write_range(const Fetched& item, Bytes& out, Bytes& scratch) {
  const auto& [pack_id, salt] = packs_[item.pack];
  if (item.error) {
    for (uint32_t b = item.blobs_begin; b < item.blobs_end; ++b) {
      if (reporter_.aborted()) return;
      recover_blob(item, b, *item.error, out);
    }
    return;
  }
  const crypto::Aead aead(repo::pack_subkey(repo_.keys().encryption, salt));
  uint64_t raw = 0;
  size_t places = 0;
  for (uint32_t b = item.blobs_begin; b < item.blobs_end; ++b) {
    raw += blobs_[b].entry.raw_length;
    places += blobs_[b].refs_end - blobs_[b].refs_begin;
  }
  // Content shared by many files (a CMS core in every account) is written
  // file by file, in rank order: the first account gets all of it before
  // the next one gets any, so accounts complete one after another instead
  // of all at once when the last blob lands. That needs the range decoded
  // first; a range too large for that is written blob by blob.
  if (places > item.blobs_end - item.blobs_begin && raw <= kMaxDecodedRange) {
    write_range_by_file(item, aead, raw, out, scratch);
    return;
  }
  for (uint32_t b = item.blobs_begin; b < item.blobs_end; ++b) {
    const BlobJob& job = blobs_[b];
    if (!decode(item, b, aead, out, scratch)) continue;
    const bool zero = all_zero(out);
    for (uint32_t k = job.refs_begin; k < job.refs_end; ++k) {
      if (reporter_.aborted()) return;
      const BlobRef& ref = refs_[k];
      if (ref.length == kSkipped) continue;
      files_.write_part(ref.file, ref.offset, out, zero);
    }
  }
}

void ContentRestorer::write_range_by_file(const Fetched& item, const crypto::Aead& aead,
                                          uint64_t raw, Bytes& out, Bytes& scratch) {
  thread_local Bytes arena;
  if (arena.size() < raw) arena.resize(raw);
  struct Decoded {
    uint64_t at;
    bool zero;
  };
  std::vector<Decoded> decoded(item.blobs_end - item.blobs_begin);
  std::vector<std::pair<uint32_t, uint32_t>> writes;  // (ref, blob - blobs_begin)
  uint64_t at = 0;
  for (uint32_t b = item.blobs_begin; b < item.blobs_end; ++b) {
    const BlobJob& job = blobs_[b];
    if (!decode(item, b, aead, out, scratch)) continue;
    std::memcpy(arena.data() + at, out.data(), out.size());
    decoded[b - item.blobs_begin] = Decoded{at, all_zero(out)};
    at += out.size();
    for (uint32_t k = job.refs_begin; k < job.refs_end; ++k)
      if (refs_[k].length != kSkipped) writes.emplace_back(k, b - item.blobs_begin);
  }
  std::sort(writes.begin(), writes.end(), [&](const auto& x, const auto& y) {
    const BlobRef& a = refs_[x.first];
    const BlobRef& b = refs_[y.first];
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  for (const auto& [k, local] : writes) {
    if (reporter_.aborted()) return;
    const BlobRef& ref = refs_[k];
    const Decoded& d = decoded[local];
    files_.write_part(ref.file, ref.offset, ByteView(arena.data() + d.at, ref.length), d.zero);
  }
}

bool ContentRestorer::decode(const Fetched& item, uint32_t b, const crypto::Aead& aead, Bytes& out,
                             Bytes& scratch) {
  const BlobJob& job = blobs_[b];
  ByteView stored(item.data.data() + (job.entry.offset - item.offset), job.entry.stored_length);
  try {
    repo::decode_blob(aead, repo_.hasher(), job.entry, stored, packs_[item.pack].first, out,
                      scratch);
    return true;
  } catch (const Error& e) {
    recover_blob(item, b, e, out);
    return false;
  }
}

void ContentRestorer::recover_blob(const Fetched& item, uint32_t b, const Error& why, Bytes& out) {
  const BlobJob& job = blobs_[b];
  const auto& [pack_id, salt] = packs_[item.pack];
  const repo::BlobLocation failed{pack_id, salt, job.entry};
  try {
    out = repo_.load_blob_elsewhere(refs_[job.refs_begin].blob, failed, why);
  } catch (const Error& e) {
    fail_blob(job, why.message() +
                       (e.message() == why.message() ? "" : "; elsewhere: " + e.message()));
    return;
  }
  bytes_read_.fetch_add(job.entry.stored_length, std::memory_order_relaxed);
  const bool zero = all_zero(out);
  for (uint32_t k = job.refs_begin; k < job.refs_end; ++k) {
    const BlobRef& ref = refs_[k];
    if (ref.length == kSkipped) continue;
    files_.write_part(ref.file, ref.offset, out, zero);
  }
}

void ContentRestorer::fail_blob(const BlobJob& job, const std::string& why) {
  for (uint32_t k = job.refs_begin; k < job.refs_end; ++k) {
    const BlobRef& ref = refs_[k];
    if (ref.length == kSkipped) continue;
    files_.fail_part(ref.file, std::to_string(ref.length) + " bytes at offset " +
                                   std::to_string(ref.offset) + " could not be restored: " + why);
  }
}

ContentStats ContentRestorer::stats() const {
  return ContentStats{blobs_.size(), ranges_.size(), bytes_read_.load()};
}

}  // namespace lifeboat::restore
