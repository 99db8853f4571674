// A backend wrapper for tests that counts reads of packs: all of them, and
// trailer reads (reads that end at the end of a pack), to show a reader
// fetched only what it needed (a remote repository pays per request).
// Header-only: the support library does not link backend/.
#pragma once

#include <atomic>
#include <memory>

#include "backend/mem_backend.h"

namespace lifeboat::test {

class TrailerCounter : public backend::Backend {
 public:
  explicit TrailerCounter(std::shared_ptr<backend::MemBackend> inner) : inner_(std::move(inner)) {}
  std::atomic<int> trailer_reads{0};
  std::atomic<int> pack_reads{0};

  std::string location() const override { return inner_->location(); }
  void create() override { inner_->create(); }
  void save(const backend::Handle& h, ByteView data) override { inner_->save(h, data); }
  Bytes load(const backend::Handle& h, uint64_t offset, uint64_t length) override {
    Bytes b = inner_->load(h, offset, length);
    if (h.type == backend::ObjectType::kData) ++pack_reads;
    if (h.type == backend::ObjectType::kData && length > 0 && offset + b.size() == *inner_->size(h))
      ++trailer_reads;
    return b;
  }
  std::optional<uint64_t> size(const backend::Handle& h) override { return inner_->size(h); }
  void remove(const backend::Handle& h) override { inner_->remove(h); }
  void list(backend::ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override {
    inner_->list(type, fn);
  }

 private:
  std::shared_ptr<backend::MemBackend> inner_;
};

}  // namespace lifeboat::test
