// Password-based key derivation: Argon2id (libsodium crypto_pwhash).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "crypto/mac.h"

namespace lifeboat::crypto {

struct KdfParams {
  uint64_t ops_limit = 3;                 // iterations
  uint64_t mem_limit = 64ull << 20;       // bytes
  // Cheap settings for tests only (never the default of a real repository).
  static KdfParams for_tests() { return {1, 8ull << 10}; }
};

inline constexpr size_t kKdfSaltSize = 16;  // crypto_pwhash_SALTBYTES

// Deterministic: the same password, salt and params give the same key.
// Thread-safe. Throws Error(kInvalidArgument) if salt is not kKdfSaltSize
// bytes or params are outside libsodium's Argon2id limits (ops_limit >= 1,
// mem_limit >= 8 KiB); Error(kInternal) if libsodium refuses (out of memory).
Key32 derive_key(std::string_view password, ByteView salt, const KdfParams& params);

}  // namespace lifeboat::crypto
