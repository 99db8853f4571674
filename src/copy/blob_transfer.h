// Moving blobs from one repository to another, pack by pack: the blobs a
// copy needs are sorted by where they sit in the source, joined into ranged
// reads (repo/read_ranges.h), read, verified and stored in the destination
// by a few threads at once.
//
// Each thread reads one range, verifies its blobs (decrypt, decompress,
// MAC) and stores them (compress, encrypt into the destination's packs)
// before taking the next: with 2 cores two threads keep both busy, and more
// overlap the round trips of a remote source. What is held at once is one
// range (≤ RangeLimits::max_range) per thread plus the destination's packs
// and upload queue, both bounded — the bounded queue is the thread count.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/read_ranges.h"
#include "repo/repository.h"

namespace lifeboat::copy {

// The source lacks a blob, or no copy of it verifies: the snapshot that
// needs it cannot be copied whole. Everything else (the destination failing,
// the network down for good) stops the whole copy.
class SourceError : public Error {
 public:
  explicit SourceError(const Error& e) : Error(e) {}
};

// Flushes the destination once at least `every_bytes` more have been stored
// since the last flush, so a killed copy loses at most that much work (the
// next run finds the flushed blobs in the index and skips them).
class FlushPacer {
 public:
  explicit FlushPacer(uint64_t every_bytes) : every_(every_bytes), next_(every_bytes) {}
  // Thread-safe; one thread flushes, the others carry on.
  void maybe_flush(repo::Repository& dst, const repo::SaveTally& tally);
  void flushed_at(uint64_t stored) { next_ = stored + every_; }

 private:
  uint64_t every_;
  std::atomic<uint64_t> next_;
  std::mutex mu_;
};

struct TransferOptions {
  size_t threads = 4;
  repo::RangeLimits limits;
  const std::atomic<bool>* stop = nullptr;  // set: return after the ranges being read
};

// Copies the data blobs `ids` from `src` to `dst` (dst.save_blob skips any
// it has by now), counting what it stores in `tally`. Throws SourceError
// naming the first blob the source cannot provide, after the other threads
// stopped; rethrows anything else the same way.
void transfer_blobs(const repo::Repository& src, repo::Repository& dst, std::vector<Id> ids,
                    const TransferOptions& options, repo::SaveTally& tally, FlushPacer& pacer);

// src.load_blob, with its kNotFound / kCorrupt turned into SourceError.
Bytes load_source_blob(const repo::Repository& src, repo::BlobType type, const Id& id);

}  // namespace lifeboat::copy
