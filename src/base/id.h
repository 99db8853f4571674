// A 32-byte identifier: blob ids (keyed MAC of the plaintext) and object
// names (SHA-256 of the stored bytes). Ordered, hashable, printable as hex.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace lifeboat {

struct Id {
  std::array<uint8_t, 32> bytes{};

  std::string hex() const;
  std::string short_hex() const { return hex().substr(0, 8); }
  bool is_zero() const;
  static std::optional<Id> from_hex(std::string_view text);
  static Id from_bytes(const uint8_t* p) {
    Id id;
    std::memcpy(id.bytes.data(), p, 32);
    return id;
  }
  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
};

struct IdHash {
  size_t operator()(const Id& id) const noexcept {
    // Ids are uniformly random (MAC or SHA-256 output): any 8 bytes hash well.
    uint64_t v;
    std::memcpy(&v, id.bytes.data(), sizeof v);
    return static_cast<size_t>(v);
  }
};

}  // namespace lifeboat
