// Hex encoding of byte strings (object names, ids in messages).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace lifeboat {

std::string to_hex(ByteView data);
// Returns nullopt when `text` is not an even-length string of hex digits.
std::optional<Bytes> from_hex(std::string_view text);

}  // namespace lifeboat
