#include "backend/fault_backend.h"

#include <thread>

namespace lifeboat::backend {

namespace {

size_t slot(ObjectType type) { return static_cast<size_t>(type); }

}  // namespace

FaultBackend::FaultBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {
  if (!inner_) throw Error(ErrorCode::kInternal, "FaultBackend needs a backend to wrap");
}

void FaultBackend::fail_loads(ObjectType type, int count) {
  std::lock_guard lock(mu_);
  fail_load_count_[slot(type)] = count;
}

void FaultBackend::fail_save_at(uint64_t n, bool and_after) {
  std::lock_guard lock(mu_);
  fail_at_ = n;
  fail_after_ = and_after;
}

void FaultBackend::flip_bits_on_load(ObjectType type, bool enabled) {
  std::lock_guard lock(mu_);
  flip_[slot(type)] = enabled;
}

void FaultBackend::slow_loads(ObjectType type, std::chrono::microseconds latency,
                              uint64_t bytes_per_second) {
  std::lock_guard lock(mu_);
  latency_[slot(type)] = latency;
  bytes_per_second_[slot(type)] = bytes_per_second;
}

std::string FaultBackend::location() const { return inner_->location(); }

void FaultBackend::create() { inner_->create(); }

void FaultBackend::save(const Handle& h, ByteView data) {
  const uint64_t n = saves_.fetch_add(1) + 1;  // every attempt counts, failed ones too
  bool fail;
  {
    std::lock_guard lock(mu_);
    fail = fail_at_ != 0 && (n == fail_at_ || (fail_after_ && n > fail_at_));
  }
  if (fail) throw Error(ErrorCode::kIo, "injected fault saving " + h.path());
  inner_->save(h, data);
}

Bytes FaultBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  bool flip;
  std::chrono::microseconds latency;
  uint64_t bytes_per_second;
  {
    std::lock_guard lock(mu_);
    int& left = fail_load_count_[slot(h.type)];
    if (left > 0) {
      --left;
      throw Error(ErrorCode::kUnavailable, "injected fault loading " + h.path());
    }
    flip = flip_[slot(h.type)];
    latency = latency_[slot(h.type)];
    bytes_per_second = bytes_per_second_[slot(h.type)];
  }
  Bytes data = inner_->load(h, offset, length);
  if (latency.count() > 0 || bytes_per_second > 0) {
    auto transfer = std::chrono::microseconds(
        bytes_per_second == 0 ? 0 : data.size() * 1000000 / bytes_per_second);
    std::this_thread::sleep_for(latency + transfer);
  }
  if (flip && !data.empty()) data[data.size() / 2] ^= 0x01;
  return data;
}

std::optional<uint64_t> FaultBackend::size(const Handle& h) { return inner_->size(h); }

void FaultBackend::remove(const Handle& h) { inner_->remove(h); }

void FaultBackend::list(ObjectType type,
                        const std::function<void(std::string_view, uint64_t)>& fn) {
  inner_->list(type, fn);
}

}  // namespace lifeboat::backend
