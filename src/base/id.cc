#include "base/id.h"

#include "base/hex.h"

namespace lifeboat {

std::string Id::hex() const { return to_hex(bytes); }

bool Id::is_zero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

std::optional<Id> Id::from_hex(std::string_view text) {
  if (text.size() != 64) return std::nullopt;
  auto raw = lifeboat::from_hex(text);
  if (!raw) return std::nullopt;
  return Id::from_bytes(raw->data());
}

}  // namespace lifeboat
