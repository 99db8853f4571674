// Cryptographically secure randomness (libsodium's randombytes).
#pragma once

#include "base/bytes.h"

namespace lifeboat::crypto {

void random_bytes(MutableByteView out);
Bytes random_bytes(size_t n);

}  // namespace lifeboat::crypto
