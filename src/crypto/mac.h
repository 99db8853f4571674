// Blob ids and object names.
//
// Blob id = HMAC-SHA-256(id_key, plaintext): keyed, so stored ids reveal
// nothing about content to someone without the key (no confirmation of known
// files), and re-checked on every read (law 4).
// Object name = SHA-256 of the bytes stored (packs, index segments, snapshots).
#pragma once

#include <array>

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

Id sha256(ByteView data);

// Incremental SHA-256 for data that arrives in pieces (pack files).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(ByteView data);
  Id finish();

 private:
  void* ctx_;
};

// HKDF-SHA-256 (RFC 5869) producing 32 bytes.
Key32 hkdf_sha256(const Key32& key, ByteView salt, std::string_view info);

}  // namespace lifeboat::crypto
