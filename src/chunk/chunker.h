// Content-defined chunking, FastCDC-style (Xia et al., 2016): a gear rolling
// hash with normalized chunking (a stricter mask before the average size, a
// looser one after) so chunk sizes cluster near the average and boundaries
// survive inserts, appends and small edits.
//
// The gear table is derived from the repository's secret chunker key, so
// chunk boundaries (and with them file sizes of stored blobs) do not leak
// content fingerprints to someone without the key.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "crypto/mac.h"

namespace lifeboat::chunk {

struct ChunkerParams {
  uint32_t min_size = 512u << 10;  // 512 KiB
  uint32_t avg_size = 1u << 20;    // 1 MiB, must be a power of two
  uint32_t max_size = 8u << 20;    // 8 MiB
};

class GearTable {
 public:
  // gear[i] = first 8 bytes (LE) of HMAC-SHA-256(chunker_key, "lifeboat gear" || u8 i).
  explicit GearTable(const crypto::Key32& chunker_key);
  const std::array<uint64_t, 256>& values() const { return gear_; }

 private:
  std::array<uint64_t, 256> gear_;
};

// The cut rule (part of the repository format in effect: changing it keeps
// old data readable but stops new backups deduplicating against it):
//   h = (h << 1) + gear[byte], over the bytes of the chunk in order;
//   a chunk may end after byte i (length i + 1) when
//     min_size <= i + 1 <= avg_size  and (h & mask_small) == 0, or
//     avg_size <  i + 1 <= max_size  and (h & mask_large) == 0;
//   otherwise it ends at max_size (or at the end of the final tail).
// mask_small has log2(avg_size) + 2 one-bits, mask_large log2(avg_size) - 2
// (FastCDC normalization level 2), spread evenly over bits 16..63:
// bit 63 - floor(k * 48 / n) for k in [0, n). High bits of h depend on more
// bytes (bit j on the last j + 1), so the test sees a wider window.
// Hashing starts 64 bytes before the first candidate byte (index
// min_size - 1), never earlier: h depends only on the last 64
// bytes, so every candidate is decided by its own 64-byte window, exactly as
// if the whole chunk had been hashed, while the bytes before that are never
// touched. With min_size = avg_size / 2 the mean chunk is about 1.2 * avg_size.
//
// Stateless apart from its parameters; thread-safe. Keeps a reference to the
// table's values: the GearTable must outlive the Chunker.
class Chunker {
 public:
  // Throws Error(kInvalidArgument) unless avg_size is a power of two in
  // [64, 2^30] and 0 < min_size < avg_size < max_size <= 2^31.
  Chunker(const GearTable& table, ChunkerParams params);

  // Length of the chunk starting at data[0]. `data` must hold at least
  // max_size bytes unless it is the final tail of the stream (final == true);
  // a shorter non-final input throws Error(kInvalidArgument).
  // Returns a value in [1, data.size()] (0 only for empty final input); never
  // more than max_size; less than min_size only for the final tail.
  size_t cut(ByteView data, bool final) const;

  uint64_t mask_small() const { return mask_small_; }
  uint64_t mask_large() const { return mask_large_; }

  const ChunkerParams& params() const { return params_; }

 private:
  const std::array<uint64_t, 256>& gear_;
  ChunkerParams params_;
  uint64_t mask_small_;  // used before avg_size: more bits, harder to match
  uint64_t mask_large_;  // used after avg_size: fewer bits, easier to match
};

}  // namespace lifeboat::chunk
