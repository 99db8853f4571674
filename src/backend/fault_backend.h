// Fault injection as a wrapper around any backend (for tests): fail the Nth
// save, fail saves of a type, flip a bit in loaded data, make loads fail.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "backend/backend.h"

namespace lifeboat::backend {


class FaultBackend : public Backend {
 public:
  explicit FaultBackend(std::shared_ptr<Backend> inner);

  // The next `count` loads of objects of `type` fail with kUnavailable.
  void fail_loads(ObjectType type, int count);
  // Save number n (1-based, counted from construction) and, if `and_after`,
  // all later saves throw Error(kIo) ("injected fault").
  void fail_save_at(uint64_t n, bool and_after);
  // Every loaded byte range of objects of `type` gets one bit flipped.
  void flip_bits_on_load(ObjectType type, bool enabled);
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
};

}  // namespace lifeboat::backend
