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
#pragma once

#include <optional>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "restore/file_table.h"
#include "restore/planner.h"
#include "restore/reporter.h"
#include "restore/retry.h"

namespace lifeboat::restore {

struct ContentOptions {
  size_t fetch_threads = 4;
  size_t worker_threads = 2;
  uint64_t max_range = 16u << 20;  // bytes of one ranged read (a larger blob is read alone)
  uint64_t max_gap = 1u << 20;     // unneeded bytes read to join two blobs into one range
  size_t max_inflight = 6;         // ranges in memory at once
  RetryPolicy retry;               // per read, for transient (kUnavailable) failures
};

struct ContentStats {
  uint64_t blobs = 0;       // distinct blobs needed and found
  uint64_t ranges = 0;      // ranged reads planned
  uint64_t bytes_read = 0;  // bytes fetched from the repository
};

class ContentRestorer {
 public:
  ContentRestorer(repo::Repository& repo, FileTable& files, Reporter& reporter,
                  ContentOptions options);

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
  struct BlobJob {
    repo::PackEntry entry;
    uint32_t rank;        // lowest rank of the files it goes to
    uint32_t pack;        // index into packs_
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
  struct Fetched {
    uint32_t pack;
    uint64_t offset;
    uint32_t blobs_begin;
    uint32_t blobs_end;
    Bytes data;
    std::optional<Error> error;  // set if the bytes could not be read
  };
  struct Semaphore;

  void form_ranges();
  void fetch_loop(Semaphore& slots, BoundedQueue<Fetched>& queue);
  void work_loop(Semaphore& slots, BoundedQueue<Fetched>& queue);
  void write_range(const Fetched& item, Bytes& out, Bytes& scratch);
  // Decodes blobs_[b] of `item` into `out`; a blob that fails verification
  // is reported for every place it goes (false).
  bool decode(const Fetched& item, uint32_t b, const crypto::Aead& aead, Bytes& out,
              Bytes& scratch);
  void write_range_by_file(const Fetched& item, const crypto::Aead& aead, uint64_t raw,
                           Bytes& out, Bytes& scratch);
  void fail_blob(const BlobJob& job, const std::string& why);
  // The index pointed at a gone, short or damaged place: reads the blob
  // from wherever else the repository finds it and writes it, else fails
  // its parts. Slow path, one blob at a time.
  void recover_blob(const Fetched& item, uint32_t b, const Error& why, Bytes& out);
  Bytes load(uint32_t pack, uint64_t offset, uint64_t length);

  repo::Repository& repo_;
  FileTable& files_;
  Reporter& reporter_;
  const ContentOptions options_;

  std::vector<BlobRef> refs_;   // sorted by blob
  std::vector<BlobJob> blobs_;  // grouped by range, in range order; by offset within one
  std::vector<std::pair<Id, repo::PackSalt>> packs_;
  std::vector<Range> ranges_;
  std::atomic<size_t> next_range_{0};
  std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace lifeboat::restore
