#include "restore/content.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/error.h"
#include "repo/read_ranges.h"

namespace lifeboat::restore {

using backend::ObjectType;

namespace {
// BlobRef::length of a place plan() decided not to write.
constexpr uint32_t kSkipped = UINT32_MAX;
// The most plaintext of one range decoded at once to write it file by file.
constexpr uint64_t kMaxDecodedRange = 64u << 20;
// How often a fetcher too slow to take the next range looks again.
constexpr std::chrono::milliseconds kTakeRecheck{50};

}  // namespace

// One pack's AEAD at a time: a range read from its planned place is one
// pack; read elsewhere, its blobs may sit in several.
class ContentRestorer::AeadCache {
 public:
  const crypto::Aead& get(const crypto::Key32& key, const Id& pack, const repo::PackSalt& salt) {
    if (!aead_ || pack != pack_) {
      aead_.emplace(repo::pack_subkey(key, salt));
      pack_ = pack;
    }
    return *aead_;
  }

 private:
  std::optional<crypto::Aead> aead_;
  Id pack_;
};

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
    : owned_sources_(std::make_unique<Sources>(repo)),
      sources_(*owned_sources_),
      repo_(repo),
      files_(files),
      reporter_(reporter),
      options_(options) {}

ContentRestorer::ContentRestorer(Sources& sources, FileTable& files, Reporter& reporter,
                                 ContentOptions options)
    : sources_(sources),
      repo_(sources.primary()),
      files_(files),
      reporter_(reporter),
      options_(options) {}

void ContentRestorer::plan(std::vector<BlobRef> refs, const std::vector<uint32_t>* file_rank) {
  refs_ = std::move(refs);
  std::sort(refs_.begin(), refs_.end(), [](const BlobRef& a, const BlobRef& b) {
    if (a.blob != b.blob) return a.blob < b.blob;
    if (a.file != b.file) return a.file < b.file;
    return a.offset < b.offset;
  });

  // Several repositories: plan in the most compact one (sources.h).
  size_t planner = 0;
  if (sources_.size() > 1) {
    std::vector<Id> distinct;
    for (size_t i = 0; i < refs_.size(); ++i)
      if (i == 0 || refs_[i].blob != refs_[i - 1].blob) distinct.push_back(refs_[i].blob);
    planner = sources_.most_compact(distinct);
    sources_.set_planned(planner);
  }

  std::vector<uint32_t> parts(files_.size(), 0);
  std::unordered_map<Id, uint32_t, IdHash> pack_index;
  for (size_t i = 0; i < refs_.size();) {
    size_t j = i;
    while (j < refs_.size() && refs_[j].blob == refs_[i].blob) ++j;
    const Id& blob = refs_[i].blob;
    auto located = sources_.locate(blob, planner);
    const repo::BlobLocation* loc = located ? &located->loc : nullptr;
    if (!loc || loc->entry.type != repo::BlobType::kData) {
      for (size_t k = i; k < j; ++k) {
        if (k > i && refs_[k].file == refs_[k - 1].file) continue;  // one message per file
        files_.mark_failed(refs_[k].file,
                           "content blob " + blob.hex() + " (" + std::to_string(refs_[k].length) +
                               " bytes at offset " + std::to_string(refs_[k].offset) +
                               ") is in no index segment and no pack of the " +
                               (sources_.size() > 1 ? "repositories" : "repository") +
                               "; the file is incomplete. Run 'lifeboat check' to see what "
                               "else is affected");
      }
      i = j;
      continue;
    }
    auto [p, added] = pack_index.emplace(loc->pack, static_cast<uint32_t>(packs_.size()));
    if (added) packs_.push_back(PackRef{loc->pack, loc->salt, located->source});
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
    bytes_left_ += r_end - r_offset;
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
  // Each repository has fetchers of its own, so a slow one never holds up
  // reads from the others.
  for (size_t s = 0; s < sources_.size(); ++s)
    for (size_t i = 0; i < std::max<size_t>(1, options_.fetch_threads); ++i)
      fetchers.emplace_back(guarded([&, s] { fetch_loop(s, slots, queue); }));
  guarded(side_work)();
  for (auto& t : fetchers) t.join();
  queue.close();
  for (auto& t : workers) t.join();
}

std::optional<size_t> ContentRestorer::next_range(size_t source) {
  if (sources_.size() == 1) {
    const size_t r = next_range_.fetch_add(1);
    if (r >= ranges_.size() || reporter_.aborted()) return std::nullopt;
    return r;
  }
  std::unique_lock lock(take_mu_);
  for (;;) {
    const size_t r = next_range_.load();
    if (r >= ranges_.size() || reporter_.aborted()) return std::nullopt;
    if (sources_.speeds().should_take(source, ranges_[r].length, bytes_left_,
                                      std::max<size_t>(1, options_.fetch_threads))) {
      next_range_.store(r + 1);
      bytes_left_ -= ranges_[r].length;
      return r;
    }
    take_cv_.wait_for(lock, kTakeRecheck);
  }
}

void ContentRestorer::fetch_loop(size_t source, Semaphore& slots, BoundedQueue<Fetched>& queue) {
  for (;;) {
    // One repository: a slot first, as always. Several: the range first,
    // so a fetcher waiting to be fast enough holds no slot.
    std::optional<size_t> next;
    if (sources_.size() == 1) {
      slots.acquire();
      next = next_range(source);
      if (!next) {
        slots.release();
        return;
      }
    } else {
      next = next_range(source);
      if (!next) return;
      slots.acquire();
    }
    const Range& range = ranges_[*next];
    Fetched item = fetch_whole(*next, source);
    if (!item.error || range.blobs_end - range.blobs_begin == 1) {
      queue.push(std::move(item));
      continue;
    }
    // No repository could read it whole: read its blobs one by one where
    // it was planned (workers try the other repositories for those that
    // fail), so damage costs only what it touches.
    slots.release();
    const uint32_t planned = packs_[range.pack].source;
    for (uint32_t b = range.blobs_begin; b < range.blobs_end; ++b) {
      slots.acquire();
      if (reporter_.aborted()) {
        slots.release();
        return;
      }
      const repo::PackEntry& entry = blobs_[b].entry;
      Fetched one{range.pack, entry.offset, b, b + 1, {}, {}, planned, {}};
      try {
        one.data = load(range.pack, entry.offset, entry.stored_length);
      } catch (const Error& e2) {
        one.error = e2;
      }
      queue.push(std::move(one));
    }
  }
}

ContentRestorer::Fetched ContentRestorer::fetch_whole(size_t r, size_t source) {
  const Range& range = ranges_[r];
  const PackRef& pack = packs_[range.pack];
  std::optional<Error> first_error;
  bool failed_before = false;
  auto note_failure = [&](size_t q, const Id& pack_id, const Error& e) {
    if (!first_error) first_error = e;
    failed_before = true;
    if (sources_.size() == 1) return;
    sources_.count_failure(q);
    // Unreachable (retries exhausted): the repository; anything else
    // (gone, short, damaged): that pack of it.
    if (e.retryable())
      sources_.speeds().unreachable(q);
    else
      sources_.mark_bad_pack(q, pack_id);
  };
  auto attempt = [&](size_t q) -> std::optional<Fetched> {
    if (q == pack.source) {
      if (sources_.size() > 1 && sources_.bad_pack(q, pack.id)) return std::nullopt;
      try {
        return Fetched{range.pack,
                       range.offset,
                       range.blobs_begin,
                       range.blobs_end,
                       load_from(q, pack.id, range.offset, range.length, failed_before),
                       {},
                       pack.source,
                       {}};
      } catch (const Error& e) {
        note_failure(q, pack.id, e);
        return std::nullopt;
      }
    }
    auto placed = place_in(range, q);
    if (!placed) return std::nullopt;
    Id failed_pack;
    try {
      return read_placed(range, q, std::move(*placed), failed_before, failed_pack);
    } catch (const Error& e) {
      note_failure(q, failed_pack, e);
      return std::nullopt;
    }
  };

  if (sources_.size() == 1) {
    if (auto item = attempt(0)) return std::move(*item);
  } else {
    std::vector<size_t> order{source};
    for (size_t q : sources_.speeds().preference())
      if (q != source) order.push_back(q);
    if (sources_.speeds().down(source)) std::rotate(order.begin(), order.begin() + 1, order.end());
    for (size_t q : order) {
      if (reporter_.aborted()) break;
      if (auto item = attempt(q)) return std::move(*item);
    }
  }
  Fetched failed{range.pack, range.offset, range.blobs_begin, range.blobs_end, {}, {},
                 pack.source, {}};
  failed.error = first_error ? *first_error
                             : Error(ErrorCode::kNotFound,
                                     "pack " + pack.id.hex() + " was found damaged before");
  return failed;
}

std::optional<std::vector<ContentRestorer::Placed>> ContentRestorer::place_in(const Range& range,
                                                                               size_t s) const {
  std::vector<Placed> placed;
  placed.reserve(range.blobs_end - range.blobs_begin);
  const repo::Repository& repo = sources_.at(s);
  for (uint32_t b = range.blobs_begin; b < range.blobs_end; ++b) {
    auto loc = repo.index().find(refs_[blobs_[b].refs_begin].blob);
    if (!loc || loc->entry.type != repo::BlobType::kData ||
        loc->entry.raw_length != blobs_[b].entry.raw_length || sources_.bad_pack(s, loc->pack))
      return std::nullopt;
    placed.push_back(Placed{*loc, 0});
  }
  return placed;
}

ContentRestorer::Fetched ContentRestorer::read_placed(const Range& range, size_t s,
                                                      std::vector<Placed> placed, bool fallback,
                                                      Id& failed_pack) {
  // The blobs as they lie in repository s, coalesced with the same limits.
  std::vector<uint32_t> order(placed.size());
  for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const repo::BlobLocation& x = placed[a].loc;
    const repo::BlobLocation& y = placed[b].loc;
    return x.pack != y.pack ? x.pack < y.pack : x.entry.offset < y.entry.offset;
  });
  std::vector<repo::BlobSpan> spans;
  std::vector<Id> pack_of;  // by BlobSpan::pack
  for (uint32_t k : order) {
    const repo::BlobLocation& loc = placed[k].loc;
    if (pack_of.empty() || pack_of.back() != loc.pack) pack_of.push_back(loc.pack);
    spans.push_back(repo::BlobSpan{static_cast<uint32_t>(pack_of.size() - 1), loc.entry.offset,
                                   loc.entry.stored_length});
  }
  const auto reads =
      repo::coalesce_reads(spans, repo::RangeLimits{options_.max_range, options_.max_gap});
  Fetched item{range.pack, range.offset, range.blobs_begin, range.blobs_end, {}, {},
               static_cast<uint32_t>(s), std::move(placed)};
  for (const repo::ReadRange& read : reads) {
    failed_pack = pack_of[read.pack];
    Bytes data = load_from(s, failed_pack, read.offset, read.length, fallback);
    const uint64_t base = item.data.size();
    item.data.insert(item.data.end(), data.begin(), data.end());
    for (size_t k = read.begin; k < read.end; ++k)
      item.placed[order[k]].at = base + (spans[k].offset - read.offset);
  }
  return item;
}

Bytes ContentRestorer::load(uint32_t pack, uint64_t offset, uint64_t length) {
  return load_from(packs_[pack].source, packs_[pack].id, offset, length, false);
}

Bytes ContentRestorer::load_from(size_t s, const Id& pack, uint64_t offset, uint64_t length,
                                 bool fallback) {
  const backend::Handle handle{ObjectType::kData, pack.hex()};
  const auto started = std::chrono::steady_clock::now();
  sources_.read_begins(s);
  Bytes data;
  try {
    data = with_retries(options_.retry,
                        [&] { return sources_.at(s).backend().load(handle, offset, length); });
  } catch (...) {
    sources_.read_ends(s);
    throw;
  }
  sources_.read_ends(s);
  if (data.size() != length)
    throw Error(ErrorCode::kCorrupt,
                "short read from pack " + handle.name + ": " + std::to_string(data.size()) +
                    " of " + std::to_string(length) + " bytes at offset " + std::to_string(offset));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  bytes_read_.fetch_add(length, std::memory_order_relaxed);
  sources_.count_read(s, length, seconds, fallback);
  sources_.speeds().read_done(s, length, seconds);
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
  if (item.error) {
    for (uint32_t b = item.blobs_begin; b < item.blobs_end; ++b) {
      if (reporter_.aborted()) return;
      recover_blob(item, b, *item.error, out);
    }
    return;
  }
  AeadCache aead;
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

void ContentRestorer::write_range_by_file(const Fetched& item, AeadCache& aead,
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

bool ContentRestorer::decode(const Fetched& item, uint32_t b, AeadCache& aead, Bytes& out,
                             Bytes& scratch) {
  const repo::Repository& repo = sources_.at(item.source);
  try {
    if (item.placed.empty()) {
      const BlobJob& job = blobs_[b];
      const PackRef& pack = packs_[item.pack];
      ByteView stored(item.data.data() + (job.entry.offset - item.offset),
                      job.entry.stored_length);
      repo::decode_blob(aead.get(repo.keys().encryption, pack.id, pack.salt), repo.hasher(),
                        job.entry, stored, pack.id, out, scratch);
    } else {
      const Placed& p = item.placed[b - item.blobs_begin];
      ByteView stored(item.data.data() + p.at, p.loc.entry.stored_length);
      repo::decode_blob(aead.get(repo.keys().encryption, p.loc.pack, p.loc.salt), repo.hasher(),
                        p.loc.entry, stored, p.loc.pack, out, scratch);
    }
    return true;
  } catch (const Error& e) {
    recover_blob(item, b, e, out);
    return false;
  }
}

repo::BlobLocation ContentRestorer::location_of(const Fetched& item, uint32_t b) const {
  if (!item.placed.empty()) return item.placed[b - item.blobs_begin].loc;
  const PackRef& pack = packs_[item.pack];
  return repo::BlobLocation{pack.id, pack.salt, blobs_[b].entry};
}

void ContentRestorer::recover_blob(const Fetched& item, uint32_t b, const Error& why, Bytes& out) {
  const BlobJob& job = blobs_[b];
  const Id& blob = refs_[job.refs_begin].blob;
  const size_t source = item.source;
  const repo::BlobLocation failed = location_of(item, b);
  if (sources_.size() > 1) sources_.count_failure(source);
  // Cheapest first: another repository's index names a place to read;
  // then this repository's own fallbacks (its trailer searches); then the
  // others' trailer searches.
  bool found = load_from_others(blob, source, out);
  std::optional<Error> elsewhere;
  if (!found) {
    try {
      out = sources_.at(source).load_blob_elsewhere(blob, failed, why);
      bytes_read_.fetch_add(job.entry.stored_length, std::memory_order_relaxed);
      found = true;
    } catch (const Error& e) {
      elsewhere = e;
    }
  }
  for (size_t q = 0; !found && q < sources_.size(); ++q) {
    if (q == source) continue;
    try {
      out = sources_.at(q).load_blob(repo::BlobType::kData, blob);
      bytes_read_.fetch_add(job.entry.stored_length, std::memory_order_relaxed);
      sources_.count_read(q, job.entry.stored_length, 0, true);
      found = true;
    } catch (const Error&) {
    }
  }
  if (!found) {
    std::string message = why.message();
    if (elsewhere && elsewhere->message() != why.message())
      message += "; elsewhere: " + elsewhere->message();
    if (sources_.size() > 1) message += "; no other repository could provide it either";
    fail_blob(job, message);
    return;
  }
  const bool zero = all_zero(out);
  for (uint32_t k = job.refs_begin; k < job.refs_end; ++k) {
    const BlobRef& ref = refs_[k];
    if (ref.length == kSkipped) continue;
    files_.write_part(ref.file, ref.offset, out, zero);
  }
}

bool ContentRestorer::load_from_others(const Id& blob, size_t failed_source, Bytes& out) {
  if (sources_.size() == 1) return false;
  for (size_t q : sources_.speeds().preference()) {
    if (q == failed_source) continue;
    auto loc = sources_.at(q).index().find(blob);
    if (!loc || sources_.bad_pack(q, loc->pack)) continue;
    const auto started = std::chrono::steady_clock::now();
    try {
      out = sources_.at(q).load_blob_at(*loc);
    } catch (const Error&) {
      sources_.count_failure(q);
      continue;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    bytes_read_.fetch_add(loc->entry.stored_length, std::memory_order_relaxed);
    sources_.count_read(q, loc->entry.stored_length, seconds, true);
    return true;
  }
  return false;
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
