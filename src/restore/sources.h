// The repositories one restore reads from: a primary (the snapshot and its
// trees come from it) and any number of others holding the same blobs
// (copies made by `lifeboat copy`: same id key, so the same blob ids, but
// their own encryption keys and their own packs and offsets).
//
// Sources answers "where is this blob" and "read this tree" across all of
// them, keeps per-repository statistics, and measures each repository's
// read speed so the content pass (content.h) can decide which repository a
// range is read from. With one repository everything here reduces to what
// that repository does on its own.
//
// Thread-safe: lookups, loads, measurements and statistics may come from
// every fetcher and worker at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"

namespace lifeboat::restore {

// What one repository contributed to a restore.
struct SourceStats {
  std::string location;
  uint64_t bytes = 0;      // bytes read from it (content ranges and single blobs)
  uint64_t reads = 0;      // ranged reads that succeeded
  uint64_t failures = 0;   // reads (or blobs) that failed there and went elsewhere
  uint64_t fallbacks = 0;  // ranges or blobs it served after another repository failed
  double read_seconds = 0;  // time spent in its successful reads (summed over fetchers)
  double busy_seconds = 0;  // wall time with at least one read from it in flight
  bool planned = false;     // reads were planned in its pack layout (Sources::most_compact)
  // Its measured speed: bytes / busy time, in MB/s (10^6 bytes).
  double mb_per_s() const {
    return busy_seconds > 0 ? static_cast<double>(bytes) / busy_seconds / 1e6 : 0;
  }
  // Adds another run's figures (a node restore's retry) to these.
  SourceStats& operator+=(const SourceStats& more);
};

// Read-speed bookkeeping, one entry per repository. Speeds are per read
// ("stream": one fetcher's throughput), averaged as the ratio of
// exponentially weighted bytes and seconds, so a repository slow because of
// latency and one slow because of bandwidth both come out slow.
class SourceSpeeds {
 public:
  explicit SourceSpeeds(size_t n);

  void read_done(size_t s, uint64_t bytes, double seconds);
  // A read failed for a reason that says the repository (not one pack) is
  // unusable: after kDownAfter such failures in a row it takes no new work.
  void unreachable(size_t s);
  bool down(size_t s) const;
  // Bytes per second of one read from `s`; 0 while nothing was measured.
  double stream_rate(size_t s) const;

  // Should a fetcher of repository `s` (each repository has `fetchers`)
  // take the next range of `bytes`, with `remaining` bytes of ranges not
  // yet taken (this one included)? Yes while `s` is unmeasured (every
  // repository starts equal) or when it would read the range no later than
  // the other repositories would get to it: their remaining work at their
  // measured aggregate speed, and at least one read of the range at their
  // best stream speed. So a slow repository helps while there is plenty to
  // do and stops taking work before it would become the tail.
  bool should_take(size_t s, uint64_t bytes, uint64_t remaining, size_t fetchers) const;

  // Repositories in the order to try them for a fallback: usable ones
  // fastest first (unmeasured count as fast), then those marked down.
  std::vector<size_t> preference() const;

  static constexpr int kDownAfter = 3;

 private:
  struct Entry {
    double bytes = 0, seconds = 0;  // exponentially weighted sums
    int unreachable_in_a_row = 0;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

class Sources {
 public:
  // One repository: exactly the single-repository restore.
  explicit Sources(repo::Repository& primary);
  // repos[0] is the primary. Every one needs its index loaded and must share
  // the primary's id key (the caller checks; blob ids would not match).
  explicit Sources(std::vector<repo::Repository*> repos);
  ~Sources();
  Sources(const Sources&) = delete;
  Sources& operator=(const Sources&) = delete;

  size_t size() const { return repos_.size(); }
  repo::Repository& at(size_t s) const { return *repos_[s]; }
  repo::Repository& primary() const { return *repos_[0]; }

  // A tree: from the primary (with its own fallbacks), else from the first
  // other repository that has it. Throws the primary's error if none does.
  repo::Tree load_tree(const Id& id) const;

  // Where to read `blob` in the first place: the primary's index, else
  // another repository's index, else what the primary's and then the
  // others' trailer searches find (Repository::locate). nullopt if nowhere.
  // With `first`, that repository's index is asked before the others.
  struct Located {
    uint32_t source;
    repo::BlobLocation loc;
  };
  std::optional<Located> locate(const Id& blob, size_t first = 0) const;

  // The repository to plan reads in: of those holding the most of `blobs`
  // (by index), the one whose packs hold them in the fewest packs, the
  // primary on a tie. A tier copy is compact (copy packs blobs in snapshot
  // order) while the repository backed up into every night scatters a
  // snapshot's content over many packs; ranges planned in the compact one
  // are long reads there, and the others re-coalesce them in their own
  // layout. One index lookup per blob and repository; 0 with one repository.
  size_t most_compact(const std::vector<Id>& blobs) const;

  // A pack of repository `s` that could not be read (gone, short, damaged):
  // ranges are not read from it again.
  void mark_bad_pack(size_t s, const Id& pack);
  bool bad_pack(size_t s, const Id& pack) const;

  SourceSpeeds& speeds() { return speeds_; }
  const SourceSpeeds& speeds() const { return speeds_; }

  // Statistics (thread-safe counters).
  void count_read(size_t s, uint64_t bytes, double seconds, bool fallback);
  void count_failure(size_t s);
  // Wall time with reads in flight: begin/end around every read.
  void read_begins(size_t s);
  void read_ends(size_t s);
  void set_planned(size_t s);
  std::vector<SourceStats> stats() const;

 private:
  struct Counters;
  std::vector<repo::Repository*> repos_;
  SourceSpeeds speeds_;
  std::unique_ptr<Counters[]> counters_;
  mutable std::mutex bad_mu_;
  std::vector<std::unordered_set<Id, IdHash>> bad_packs_;
};

}  // namespace lifeboat::restore
