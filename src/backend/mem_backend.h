// An in-memory backend: what unit tests above the storage layer run on.
#pragma once

#include <map>
#include <mutex>

#include "backend/backend.h"

namespace lifeboat::backend {

class MemBackend : public Backend {
 public:
  std::string location() const override { return "mem:"; }
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;

  // Test access: replace stored bytes behind the create-only contract
  // (simulates damage at rest).
  void corrupt(const Handle& h, const Bytes& new_bytes);

 private:
  std::mutex mu_;
  std::map<std::string, Bytes> objects_;  // key: Handle::path()
};

}  // namespace lifeboat::backend
