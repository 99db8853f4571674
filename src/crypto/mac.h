// Blob ids and object names.
//
// Blob id = HMAC-SHA-256(id_key, plaintext): keyed, so stored ids reveal
// nothing about content to someone without the key (no confirmation of known
// files), and re-checked on every read (law 4).
// Object name = SHA-256 of the bytes stored (packs, index segments, snapshots).
#pragma once

#include <array>
#include <string_view>

#include "base/bytes.h"
#include "base/id.h"

namespace lifeboat::crypto {

using Key32 = std::array<uint8_t, 32>;

// Thread-safe: each call uses its own context copied from a prepared one, so
// the key schedule is computed once per hasher, not per blob.
class IdHasher {
 public:
  explicit IdHasher(const Key32& id_key);
  ~IdHasher();
  IdHasher(const IdHasher&) = delete;
  IdHasher& operator=(const IdHasher&) = delete;

  Id mac(ByteView plaintext) const;

 private:
  struct Impl;
  Impl* impl_;
};

// Plain SHA-256 (FIPS 180-4). Thread-safe.
Id sha256(ByteView data);

// Incremental SHA-256 for data that arrives in pieces (pack files).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(ByteView data);
  // Returns the digest of everything passed to update(); the stream must not
  // be used afterwards.
  Id finish();

 private:
  void* ctx_;
};

// HKDF-SHA-256 (RFC 5869, extract then expand) producing 32 bytes, i.e. the
// first 32 bytes of the RFC's OKM for any L >= 32. Thread-safe.
Key32 hkdf_sha256(const Key32& key, ByteView salt, std::string_view info);
// The same for input keying material of any length (RFC 5869 test vectors use
// 22 bytes). `ikm` must not be empty.
Key32 hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info);

}  // namespace lifeboat::crypto
