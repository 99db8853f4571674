#include "backend/mem_backend.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace lifeboat::backend {

void MemBackend::create() {
  std::lock_guard lock(mu_);
  if (objects_.count("config") != 0) {
    throw Error(ErrorCode::kAlreadyExists,
                "a repository already exists at mem: (found config); open it instead");
  }
}

void MemBackend::save(const Handle& h, ByteView data) {
  std::string key = h.path();
  Bytes copy(data.begin(), data.end());  // outside the lock: objects can be large
  std::lock_guard lock(mu_);
  auto [it, inserted] = objects_.try_emplace(key);
  if (!inserted && h.type != ObjectType::kLock) {
    throw Error(ErrorCode::kAlreadyExists,
                "object mem:" + key + " already exists; repository objects are create-only");
  }
  it->second = std::move(copy);
}

Bytes MemBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  std::string key = h.path();
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) throw Error(ErrorCode::kNotFound, "object mem:" + key + " not found");
  const Bytes& b = it->second;
  const uint64_t size = b.size();
  if (offset > size || (length != 0 && length > size - offset)) {
    throw Error(ErrorCode::kCorrupt,
                "short read: mem:" + key + " has " + std::to_string(size) + " bytes, wanted " +
                    std::to_string(length == 0 ? size - std::min(offset, size) : length) +
                    " at offset " + std::to_string(offset));
  }
  if (length == 0) length = size - offset;
  return Bytes(b.begin() + static_cast<ptrdiff_t>(offset),
               b.begin() + static_cast<ptrdiff_t>(offset + length));
}

std::optional<uint64_t> MemBackend::size(const Handle& h) {
  std::string key = h.path();
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.size();
}

void MemBackend::remove(const Handle& h) {
  std::string key = h.path();
  std::lock_guard lock(mu_);
  objects_.erase(key);
}

void MemBackend::list(ObjectType type,
                      const std::function<void(std::string_view, uint64_t)>& fn) {
  // Collect first and call fn unlocked, so fn may use this backend.
  std::vector<std::pair<std::string, uint64_t>> found;
  {
    std::lock_guard lock(mu_);
    if (type == ObjectType::kConfig) {
      auto it = objects_.find("config");
      if (it != objects_.end()) found.emplace_back("config", it->second.size());
    } else {
      const std::string prefix = std::string(object_type_dir(type)) + "/";
      for (auto it = objects_.lower_bound(prefix);
           it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        found.emplace_back(it->first.substr(it->first.rfind('/') + 1), it->second.size());
      }
    }
  }
  for (const auto& [name, size] : found) fn(name, size);
}

void MemBackend::corrupt(const Handle& h, const Bytes& new_bytes) {
  std::string key = h.path();
  std::lock_guard lock(mu_);
  objects_[key] = new_bytes;
}

}  // namespace lifeboat::backend
