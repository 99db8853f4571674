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

// Stateless apart from its parameters; thread-safe.
class Chunker {
 public:
  Chunker(const GearTable& table, ChunkerParams params);

  // Length of the chunk starting at data[0]. `data` must hold at least
  // max_size bytes unless it is the final tail of the stream (final == true).
  // Returns a value in [1, data.size()]; never more than max_size; less than
  // min_size only for the final tail.
  size_t cut(ByteView data, bool final) const;

  const ChunkerParams& params() const { return params_; }

 private:
  const std::array<uint64_t, 256>& gear_;
  ChunkerParams params_;
  uint64_t mask_small_;  // used before avg_size: more bits, harder to match
  uint64_t mask_large_;  // used after avg_size: fewer bits, easier to match
};

}  // namespace lifeboat::chunk
