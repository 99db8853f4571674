// The shape of a restore's reads: the blobs needed from one pack, sorted by
// offset, are joined into one ranged read while the gap between neighbours
// is small and the read stays bounded — fewer round trips for a few unneeded
// bytes. restore/content.cc reads this way; plan measures and counts reads
// of this shape.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lifeboat::repo {

struct RangeLimits {
  uint64_t max_range = 16u << 20;  // bytes of one read (a larger blob is read alone)
  uint64_t max_gap = 1u << 20;     // unneeded bytes read to join two blobs into one read
};

// Where a blob is stored: `pack` is any caller-chosen number naming the pack.
struct BlobSpan {
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One ranged read: blobs [begin, end) of the input.
struct ReadRange {
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  size_t begin = 0;
  size_t end = 0;
};

// `blobs` sorted by (pack, offset), not overlapping.
std::vector<ReadRange> coalesce_reads(std::span<const BlobSpan> blobs, const RangeLimits& limits);

}  // namespace lifeboat::repo
