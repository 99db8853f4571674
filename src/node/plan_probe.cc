#include "node/plan_probe.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "base/error.h"

namespace lifeboat::node {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Shared by the fetcher threads of one phase.
struct Tally {
  std::mutex mu;
  uint64_t errors = 0;
  std::string error;
  void fail(const std::string& message) {
    std::lock_guard lock(mu);
    if (errors++ == 0) error = message;
  }
};

// One read; false (counted in `tally`) if it failed or came back short.
bool read_range(backend::Backend& backend, const ProbeRange& r, uint64_t length, Tally& tally) {
  const backend::Handle h{backend::ObjectType::kData, r.pack.hex()};
  try {
    Bytes data = backend.load(h, r.offset, length);
    if (data.size() == length) return true;
    tally.fail("pack " + r.pack.hex() + ": short read (" + std::to_string(data.size()) + " of " +
               std::to_string(length) + " bytes at offset " + std::to_string(r.offset) + ")");
  } catch (const Error& e) {
    tally.fail(e.message());
  }
  return false;
}

// Runs `body(worker)` on `n` threads and waits for them.
template <typename Body>
void on_threads(size_t n, Body body) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) threads.emplace_back([&body, i] { body(i); });
  for (auto& t : threads) t.join();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

ProbeResult probe_reads(backend::Backend& backend, const std::vector<ProbeRange>& ranges,
                        const ProbeOptions& options, std::atomic<uint64_t>* bytes_read) {
  ProbeResult out;
  if (ranges.empty()) return out;
  out.ran = true;
  const size_t fetchers = std::max<size_t>(1, options.fetchers);
  Tally tally;

  // Latency: tiny reads, `fetchers` at a time as in a restore.
  std::mutex mu;
  std::vector<double> latencies;
  const size_t n_latency = std::min(std::max<size_t>(1, options.latency_reads), ranges.size());
  {
    const size_t n = n_latency;
    std::atomic<size_t> next{0};
    on_threads(std::min(fetchers, n), [&](size_t) {
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        const ProbeRange& r = ranges[i];
        auto t0 = Clock::now();
        if (!read_range(backend, r, std::min(r.length, options.latency_read_bytes), tally))
          continue;
        double s = since(t0);
        std::lock_guard lock(mu);
        latencies.push_back(s);
      }
    });
  }
  out.latency_seconds = median(latencies);

  // Transfer: whole ranges until the time or the byte budget is spent (the
  // read that crosses the byte budget still runs, so one range always does).
  // It starts after the ranges the latency reads touched, which a cache may
  // now hold.
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> reserved{0};
  uint64_t bytes = 0, requests = 0;
  const auto start = Clock::now();
  Clock::time_point last_end = start;
  on_threads(fetchers, [&](size_t) {
    for (;;) {
      if (since(start) >= options.seconds) return;
      const size_t i = next.fetch_add(1);
      if (i >= ranges.size()) return;
      const ProbeRange& r = ranges[(i + n_latency) % ranges.size()];
      if (reserved.fetch_add(r.length) >= options.max_bytes) return;
      if (!read_range(backend, r, r.length, tally)) continue;
      if (bytes_read) bytes_read->fetch_add(r.length, std::memory_order_relaxed);
      std::lock_guard lock(mu);
      bytes += r.length;
      ++requests;
      last_end = std::max(last_end, Clock::now());
    }
  });
  out.seconds = std::chrono::duration<double>(last_end - start).count();
  out.bytes = bytes;
  out.requests = requests;
  out.errors = tally.errors;
  out.error = tally.error;
  if (requests == 0 || out.seconds <= 0) return out;

  out.bytes_per_second = static_cast<double>(bytes) / out.seconds;
  out.requests_per_second = static_cast<double>(requests) / out.seconds;
  // The share of the wall time spent waiting for first bytes; at least a
  // tenth is left for the transfer, so a noisy latency cannot make it
  // infinite.
  const double parallel = static_cast<double>(std::min<uint64_t>(fetchers, requests));
  const double waiting = static_cast<double>(requests) * out.latency_seconds / parallel;
  out.transfer_bytes_per_second =
      static_cast<double>(bytes) / std::max(out.seconds - waiting, out.seconds / 10);
  return out;
}

}  // namespace lifeboat::node
