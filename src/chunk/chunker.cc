#include "chunk/chunker.h"

#include <algorithm>
#include <bit>
#include <string>

#include "base/error.h"

namespace lifeboat::chunk {
namespace {

// Bits of the masks live in h's bits 16..63 (see chunker.h).
constexpr int kMaskLowBit = 16;
constexpr int kMaskSpan = 64 - kMaskLowBit;
// h = (h << 1) + g forgets a byte after 64 steps.
constexpr size_t kWindow = 64;

uint64_t spread_mask(int ones) {
  uint64_t m = 0;
  for (int k = 0; k < ones; ++k) m |= uint64_t{1} << (63 - k * kMaskSpan / ones);
  return m;
}

// Four steps of h = (h << 1) + gear[byte] at once. Unrolled naively, the
// shift-add is a loop-carried chain of ~2 cycles per byte. Expanding it,
//   h_k = (h << k) + s_k,  s_k = (s_{k-1} << 1) + gear[p[k-1]],
// where the s_k do not depend on h: only h -> h_4 stays on the chain, and
// the per-byte work is two loads, one shift-add and the mask test. Equal to
// the byte-at-a-time definition (all arithmetic is mod 2^64).
// Returns the offset (0..3) of the first byte whose hash matches, or 4 with
// h advanced past all four bytes.
[[gnu::always_inline]] inline int step4(const uint8_t* p, uint64_t& h, uint64_t mask,
                                        const uint64_t* gear) {
  const uint64_t g0 = gear[p[0]], g1 = gear[p[1]], g2 = gear[p[2]], g3 = gear[p[3]];
  const uint64_t s2 = (g0 << 1) + g1, s3 = (s2 << 1) + g2, s4 = (s3 << 1) + g3;
  if ((((h << 1) + g0) & mask) == 0) [[unlikely]] return 0;
  if ((((h << 2) + s2) & mask) == 0) [[unlikely]] return 1;
  if ((((h << 3) + s3) & mask) == 0) [[unlikely]] return 2;
  h = (h << 4) + s4;
  if ((h & mask) == 0) [[unlikely]] return 3;
  return 4;
}

// Hashes p[i..end) into h; returns the first index whose byte completes a
// hash with (h & mask) == 0, or end (h then covers everything up to end).
inline size_t scan(const uint8_t* p, size_t i, size_t end, uint64_t& h, uint64_t mask,
                   const uint64_t* gear) {
  uint64_t x = h;
  for (; i + 16 <= end; i += 16) {
    if (int k = step4(p + i, x, mask, gear); k < 4) return i + k;
    if (int k = step4(p + i + 4, x, mask, gear); k < 4) return i + 4 + k;
    if (int k = step4(p + i + 8, x, mask, gear); k < 4) return i + 8 + k;
    if (int k = step4(p + i + 12, x, mask, gear); k < 4) return i + 12 + k;
  }
  for (; i < end; ++i) {
    x = (x << 1) + gear[p[i]];
    if ((x & mask) == 0) return i;
  }
  h = x;
  return end;
}

}  // namespace

GearTable::GearTable(const crypto::Key32& chunker_key) {
  crypto::IdHasher hmac(chunker_key);
  constexpr std::string_view kLabel = "lifeboat gear";
  uint8_t msg[kLabel.size() + 1];
  std::copy(kLabel.begin(), kLabel.end(), msg);
  for (size_t i = 0; i < gear_.size(); ++i) {
    msg[kLabel.size()] = static_cast<uint8_t>(i);
    gear_[i] = get_u64le(hmac.mac(ByteView(msg, sizeof msg)).bytes.data());
  }
}

Chunker::Chunker(const GearTable& table, ChunkerParams params)
    : gear_(table.values()), params_(params) {
  const auto& p = params_;
  if (!std::has_single_bit(p.avg_size) || p.avg_size < 64 || p.avg_size > (1u << 30) ||
      p.min_size == 0 || p.min_size >= p.avg_size || p.avg_size >= p.max_size ||
      p.max_size > (1u << 31)) {
    throw Error(ErrorCode::kInvalidArgument,
                "chunker parameters invalid: need avg a power of two in [64, 2^30] and "
                "0 < min < avg < max <= 2^31; got min=" +
                    std::to_string(p.min_size) + " avg=" + std::to_string(p.avg_size) +
                    " max=" + std::to_string(p.max_size));
  }
  const int bits = std::countr_zero(p.avg_size);
  mask_small_ = spread_mask(bits + 2);
  mask_large_ = spread_mask(bits - 2);
}

size_t Chunker::cut(ByteView data, bool final) const {
  const size_t n = data.size();
  if (!final && n < params_.max_size) {
    throw Error(ErrorCode::kInvalidArgument,
                "Chunker::cut: non-final input of " + std::to_string(n) +
                    " bytes is shorter than max_size " + std::to_string(params_.max_size));
  }
  if (n <= params_.min_size) return n;

  const uint8_t* p = data.data();
  const uint64_t* gear = gear_.data();
  const size_t limit = std::min<size_t>(n, params_.max_size);
  const size_t normal = std::min<size_t>(limit, params_.avg_size);
  // Byte index i ends a chunk of length i + 1: the first candidate is byte
  // min_size - 1. Warm the hash up on the kWindow bytes before it.
  const size_t first = params_.min_size - 1;
  size_t i = first > kWindow ? first - kWindow : 0;
  uint64_t h = 0;
  for (; i < first; ++i) h = (h << 1) + gear[p[i]];

  i = scan(p, i, normal, h, mask_small_, gear);
  if (i < normal) return i + 1;
  i = scan(p, i, limit, h, mask_large_, gear);
  if (i < limit) return i + 1;
  return limit;
}

}  // namespace lifeboat::chunk
