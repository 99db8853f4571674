// The read probe of `lifeboat plan`: a short, bounded measurement of how
// fast a repository serves the reads a restore of the node would make —
// ranged reads of the packs it needs, several in parallel, as the restore's
// fetchers make them.
//
// Two phases: a few tiny reads (one per fetcher at a time) measure the
// per-request latency L; then reads of real ranges, drawn at random from the
// node's, run until the time or byte budget is spent and measure the
// transfer rate with the latency taken out:
//   transfer = bytes / (wall - requests * L / fetchers)
// so that "requests * L / fetchers + bytes / transfer" reproduces the
// probe's own wall time, and predicts reads of other sizes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "base/id.h"

namespace lifeboat::node {

struct ProbeRange {
  Id pack;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct ProbeOptions {
  // Time budget of the transfer phase. Reads in flight when it is spent
  // are finished (a backend read cannot be cancelled), so on a slow store
  // the phase can last one range read (<= 16 MiB) longer.
  double seconds = 2.5;
  uint64_t max_bytes = 256u << 20;  // byte budget (whichever comes first)
  size_t fetchers = 4;            // reads at once
  size_t latency_reads = 8;       // tiny reads for the latency
  uint64_t latency_read_bytes = 4096;
};

struct ProbeResult {
  bool ran = false;               // false: nothing to read
  double seconds = 0;             // wall time of the transfer phase
  uint64_t bytes = 0;             // read in the transfer phase
  uint64_t requests = 0;          // successful reads in the transfer phase
  double latency_seconds = 0;     // median of the tiny reads
  double bytes_per_second = 0;    // bytes / seconds, as measured
  double requests_per_second = 0;
  double transfer_bytes_per_second = 0;  // latency taken out (see above)
  uint64_t errors = 0;            // reads that failed (both phases)
  std::string error;              // the first failure
  bool ok() const { return requests > 0; }
};

// Reads from `ranges` (in the order given; callers shuffle) of data objects.
// `bytes_read`, if given, counts transfer bytes as they arrive. Read
// failures are counted, never thrown.
ProbeResult probe_reads(backend::Backend& backend, const std::vector<ProbeRange>& ranges,
                        const ProbeOptions& options, std::atomic<uint64_t>* bytes_read = nullptr);

}  // namespace lifeboat::node
