// Packs: the files under data/ that hold encrypted blobs (FORMAT.md "Packs").
//
//   "LBP\x01"                                        4 bytes
//   blob 0 .. blob n-1                               AES-256-GCM each
//   trailer                                          AES-256-GCM
//   salt (32) | trailer length (u32 LE) | "LBT\x01"  40 bytes
//
// subkey = HKDF-SHA-256(encryption key, salt, "lifeboat pack"); a blob at
// offset o uses nonce counter o and aad = type (u8) || blob id; the trailer uses nonce
// counter 2^64-1 and aad "lifeboat pack trailer". A fresh random salt per
// pack makes every (subkey, nonce) pair unique by construction.
//
// The trailer lists every blob of the pack, so a pack describes itself: the
// index can always be rebuilt from packs (law 3).
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/id.h"
#include "crypto/aead.h"
#include "crypto/mac.h"
#include "repo/compress.h"

namespace lifeboat::repo {

enum class BlobType : uint8_t { kData = 0, kTree = 1 };
const char* blob_type_name(BlobType t);

inline constexpr size_t kPackHeaderSize = 4;
inline constexpr size_t kPackFooterSize = 40;
inline constexpr size_t kPackSaltSize = 32;
inline constexpr size_t kTrailerEntrySize = 46;

// Where a blob sits inside its pack and how to decode it.
struct PackEntry {
  BlobType type = BlobType::kData;
  Compression compression = Compression::kNone;
  Id id;
  uint32_t offset = 0;         // from the start of the pack file
  uint32_t stored_length = 0;  // ciphertext + tag
  uint32_t raw_length = 0;     // plaintext after decompression
};

using PackSalt = std::array<uint8_t, kPackSaltSize>;

// The 46-byte entry used by pack trailers and index segments:
// type u8 | compression u8 | id (32) | offset u32 | stored length u32 | raw length u32.
void encode_pack_entry(const PackEntry& e, uint8_t* out);
// Returns false if the type or compression byte is unknown.
[[nodiscard]] bool decode_pack_entry(const uint8_t* in, PackEntry& e);

crypto::Key32 pack_subkey(const crypto::Key32& encryption_key, const PackSalt& salt);

// Builds one pack in memory. Not thread-safe: one writer per thread.
class PackWriter {
 public:
  PackWriter(const crypto::Key32& encryption_key, size_t reserve_bytes);

  // Encrypts `stored` (already compressed if `compression` says so) and
  // appends it. `raw_length` is the plaintext length before compression.
  void add(BlobType type, const Id& id, Compression compression, uint32_t raw_length,
           ByteView stored);

  size_t size() const { return buf_.size(); }
  size_t blob_count() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  struct Finished {
    Bytes bytes;
    Id id;  // SHA-256 of bytes: the pack's object name
    PackSalt salt;
    std::vector<PackEntry> entries;
  };
  // Appends trailer and footer and returns the pack; the writer starts a new
  // pack with a fresh salt.
  Finished finish();

 private:
  void reset();

  crypto::Key32 encryption_key_;
  size_t reserve_bytes_;
  PackSalt salt_;
  crypto::Aead aead_;
  Bytes buf_;
  std::vector<PackEntry> entries_;
};

// Decrypts, decompresses and verifies one blob read from a pack. Throws
// Error(kCorrupt) naming the blob and pack if anything does not match.
// `scratch` is reused across calls to avoid allocations.
void decode_blob(const crypto::Aead& pack_aead, const crypto::IdHasher& hasher,
                 const PackEntry& entry, ByteView stored, const Id& pack_id, Bytes& out,
                 Bytes& scratch);

// Reads the footer from the last bytes of a pack: returns the trailer length
// and salt. `tail` must end at the end of the pack.
struct PackFooter {
  uint32_t trailer_length;
  PackSalt salt;
};
PackFooter parse_pack_footer(ByteView tail, const Id& pack_id);

// Decrypts and parses a trailer; `trailer` is the encrypted trailer bytes.
// Checks that entries lie inside the pack's blob area. Throws kCorrupt.
std::vector<PackEntry> parse_pack_trailer(const crypto::Key32& encryption_key,
                                          const PackFooter& footer, ByteView trailer,
                                          uint64_t pack_size, const Id& pack_id);

}  // namespace lifeboat::repo
