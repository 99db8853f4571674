// The content pass of a restore: every needed blob is fetched once, however
// many files (or places in one file) hold it.
//
// plan(): looks every distinct blob up in the index (a missing one is
// reported for each file it belongs to), groups the blobs by pack, sorts
// them by offset and coalesces neighbours (unneeded bytes between them
// below max_gap) into ranged reads of at most max_range bytes. In a batch,
// ranges are formed and fetched in rank order (the first items first); a
// range only joins blobs of its own rank, but blobs of later ranks that lie
// inside it are read anyway and join it, so no blob is fetched twice.
//
// run(): `fetch_threads` fetchers read ranges in parallel (retrying
// transient failures; a range that cannot be read is retried blob by blob,
// so damage costs only the blobs it touches); `worker_threads` workers
// decrypt, decompress and verify each blob (decode_blob checks the MAC) and
// write it to every place that needs it through the FileTable. At most
// `max_inflight` ranges are fetched or waiting or being written at once, so
// memory stays below max_inflight * max_range whatever the snapshot's size.
//
// Several repositories (sources.h): ranges are planned where the blobs are
// first located: the index of the repository that holds them in the fewest
// packs (Sources::most_compact; the primary on a tie), else another's. A
// range is a set of blobs, not a place: each repository has
// `fetch_threads` fetchers of its own, all taking the next range from one
// queue in rank order, and
// a fetcher reads the range from its own repository (its index says where
// the blobs are there; they are coalesced again with the same limits) if
// that repository has them all, else from the fastest that does. A
// fetcher whose repository is measurably slower than the others stops
// taking ranges when it would finish one later than the others would get
// to it (SourceSpeeds::should_take), so a slow repository helps without
// becoming the tail. A range that cannot be read from one repository is
// read from the next (fastest first); a blob that does not verify is read
// from another repository; only when every repository fails is the file
// reported incomplete. With one repository this is the single-repository
// pass, read for read.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "restore/file_table.h"
#include "restore/planner.h"
#include "restore/reporter.h"
#include "restore/retry.h"
#include "restore/sources.h"

namespace lifeboat::restore {

struct ContentOptions {
  size_t fetch_threads = 4;
  size_t worker_threads = 2;
  uint64_t max_range = 16u << 20;  // bytes of one ranged read (a larger blob is read alone)
  uint64_t max_gap = 1u << 20;     // unneeded bytes read to join two blobs into one range
  size_t max_inflight = 6;         // ranges in memory at once (all repositories together)
  RetryPolicy retry;               // per read, for transient (kUnavailable) failures
};

struct ContentStats {
  uint64_t blobs = 0;       // distinct blobs needed and found
  uint64_t ranges = 0;      // ranged reads planned
  uint64_t bytes_read = 0;  // bytes fetched from the repositories
};

class ContentRestorer {
 public:
  ContentRestorer(repo::Repository& repo, FileTable& files, Reporter& reporter,
                  ContentOptions options);
  // Reads from every repository of `sources` (which must outlive this).
  ContentRestorer(Sources& sources, FileTable& files, Reporter& reporter, ContentOptions options);

  // Sets how many parts each file waits for. Call once, before run().
  // With `file_rank` (a rank per file; a batch gives each item's files the
  // item's position), ranges are fetched in rank order: a blob goes with the
  // lowest-ranked file that needs it, so the first items complete first
  // while content they share with later ones is written everywhere at once.
  void plan(std::vector<BlobRef> refs, const std::vector<uint32_t>* file_rank = nullptr);

  // Fetches and writes everything. `side_work` runs on the calling thread
  // meanwhile (the restorer creates content-less files there). Returns when
  // every range is written or the run was aborted (Reporter::fatal).
  void run(const std::function<void()>& side_work);

  ContentStats stats() const;

 private:
  struct PackRef {
    Id id;
    repo::PackSalt salt;
    uint32_t source;  // the repository the pack is in
  };
  struct BlobJob {
    repo::PackEntry entry;
    uint32_t rank;        // lowest rank of the files it goes to
    uint32_t pack;        // index into packs_ (where it was planned)
    uint32_t refs_begin;  // refs_[refs_begin, refs_end) are the places it goes
    uint32_t refs_end;
  };
  struct Range {
    uint32_t pack;
    uint64_t offset;
    uint64_t length;
    uint32_t blobs_begin;  // blobs_[blobs_begin, blobs_end), sorted by offset
    uint32_t blobs_end;
  };
  // Where a blob of a range read from another repository than planned is
  // in `Fetched::data`.
  struct Placed {
    repo::BlobLocation loc;
    uint64_t at;  // offset of its stored bytes in data
  };
  struct Fetched {
    uint32_t pack;
    uint64_t offset;
    uint32_t blobs_begin;
    uint32_t blobs_end;
    Bytes data;
    std::optional<Error> error;  // set if the bytes could not be read
    // Read from repository `source`; `placed` (one per blob) when that is
    // not where the range was planned.
    uint32_t source = 0;
    std::vector<Placed> placed;
  };
  struct Semaphore;
  class AeadCache;

  void form_ranges();
  void fetch_loop(size_t source, Semaphore& slots, BoundedQueue<Fetched>& queue);
  // The next range for a fetcher of `source`, or nullopt when none is left
  // (or the run was aborted). Waits while `source` is too slow to take one.
  std::optional<size_t> next_range(size_t source);
  // Reads range r whole: from `source` if it can, else from the others,
  // fastest first. With `error` set if no repository could.
  Fetched fetch_whole(size_t r, size_t source);
  // The range's blobs as placed in repository s; nullopt if s lacks one or
  // one of their packs failed there before.
  std::optional<std::vector<Placed>> place_in(const Range& range, size_t s) const;
  // Reads `placed` from s; on failure `failed_pack` names the pack that failed.
  Fetched read_placed(const Range& range, size_t s, std::vector<Placed> placed, bool fallback,
                      Id& failed_pack);
  void work_loop(Semaphore& slots, BoundedQueue<Fetched>& queue);
  void write_range(const Fetched& item, Bytes& out, Bytes& scratch);
  // Decodes blobs_[b] of `item` into `out`; a blob that fails verification
  // is reported for every place it goes (false).
  bool decode(const Fetched& item, uint32_t b, AeadCache& aead, Bytes& out,
              Bytes& scratch);
  void write_range_by_file(const Fetched& item, AeadCache& aead, uint64_t raw,
                           Bytes& out, Bytes& scratch);
  void fail_blob(const BlobJob& job, const std::string& why);
  // Where blob b of `item` was read from.
  repo::BlobLocation location_of(const Fetched& item, uint32_t b) const;
  // The index pointed at a gone, short or damaged place: reads the blob
  // from another repository that has it, or from wherever else the
  // repository finds it, and writes it; else fails its parts. Slow path,
  // one blob at a time.
  void recover_blob(const Fetched& item, uint32_t b, const Error& why, Bytes& out);
  bool load_from_others(const Id& blob, size_t failed_source, Bytes& out);
  Bytes load(uint32_t pack, uint64_t offset, uint64_t length);
  Bytes load_from(size_t s, const Id& pack, uint64_t offset, uint64_t length, bool fallback);

  std::unique_ptr<Sources> owned_sources_;  // when constructed with one repository
  Sources& sources_;
  repo::Repository& repo_;  // the primary
  FileTable& files_;
  Reporter& reporter_;
  const ContentOptions options_;

  std::vector<BlobRef> refs_;   // sorted by blob
  std::vector<BlobJob> blobs_;  // grouped by range, in range order; by offset within one
  std::vector<PackRef> packs_;
  std::vector<Range> ranges_;
  std::atomic<size_t> next_range_{0};
  std::atomic<uint64_t> bytes_read_{0};
  // Several repositories: bytes of ranges not yet taken, and what fetchers
  // too slow to take the next range wait on.
  std::mutex take_mu_;
  std::condition_variable take_cv_;
  uint64_t bytes_left_ = 0;  // guarded by take_mu_
};

}  // namespace lifeboat::restore
