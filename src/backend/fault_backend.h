// Fault injection as a wrapper around any backend (for tests): fail the Nth
// save (and optionally all after it), flip a bit in loaded data, make loads
// fail or slow. Everything else forwards to the wrapped backend. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include "backend/backend.h"

namespace lifeboat::backend {


class FaultBackend : public Backend {
 public:
  explicit FaultBackend(std::shared_ptr<Backend> inner);

  // The next `count` loads of objects of `type` fail with kUnavailable
  // ("injected fault loading <path>"); replaces any earlier count.
  void fail_loads(ObjectType type, int count);
  // Save number n (1-based, counted from construction, failed attempts
  // included) and, if `and_after`, all later saves throw Error(kIo)
  // ("injected fault saving <path>") without reaching the wrapped backend.
  // n = 0 turns the fault off.
  void fail_save_at(uint64_t n, bool and_after);
  // Every non-empty loaded byte range of objects of `type` gets one bit
  // flipped (bit 0 of its middle byte, index size/2).
  void flip_bits_on_load(ObjectType type, bool enabled);
  // Every load of objects of `type` first sleeps `latency` plus the time
  // the returned bytes take at `bytes_per_second` (0: no bandwidth limit),
  // like a remote store would; loads in parallel are not slowed by each
  // other. latency 0 and bytes_per_second 0 turn it off.
  void slow_loads(ObjectType type, std::chrono::microseconds latency, uint64_t bytes_per_second);
  // Save attempts so far.
  uint64_t saves() const { return saves_.load(); }

  std::string location() const override;
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;

 private:
  std::shared_ptr<Backend> inner_;
  std::mutex mu_;
  std::atomic<uint64_t> saves_{0};
  uint64_t fail_at_ = 0;
  bool fail_after_ = false;
  int fail_load_count_[6] = {};
  bool flip_[6] = {};
  std::chrono::microseconds latency_[6] = {};
  uint64_t bytes_per_second_[6] = {};
};

}  // namespace lifeboat::backend
