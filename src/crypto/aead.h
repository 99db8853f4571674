// AES-256-GCM authenticated encryption (OpenSSL EVP; AES-NI where present).
//
// Nonces are 12 bytes: 4 zero bytes then a 64-bit little-endian counter.
// Callers never pick random nonces: every encrypted object derives its own
// subkey from a fresh 32-byte salt (hkdf_sha256), and within that subkey the
// counter numbers the messages (blob 0, 1, 2, ... of a pack; a reserved
// counter for the pack trailer). See docs/FORMAT.md "Encryption".
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "crypto/mac.h"

namespace lifeboat::crypto {

inline constexpr size_t kTagSize = 16;
inline constexpr size_t kNonceSize = 12;

using Nonce = std::array<uint8_t, kNonceSize>;
Nonce counter_nonce(uint64_t counter);

// Stateless and thread-safe: OpenSSL contexts are per call.
class Aead {
 public:
  explicit Aead(const Key32& key) : key_(key) {}

  // Appends ciphertext || tag (plaintext.size() + kTagSize bytes) to out.
  void seal(const Nonce& nonce, ByteView plaintext, ByteView aad, Bytes& out) const;
  // Writes plaintext (ciphertext.size() - kTagSize bytes) to out, resizing it.
  // Returns false if the input is too short or fails authentication; out is
  // then unspecified.
  [[nodiscard]] bool open(const Nonce& nonce, ByteView ciphertext_and_tag, ByteView aad,
                          Bytes& out) const;

 private:
  Key32 key_;
};

}  // namespace lifeboat::crypto
