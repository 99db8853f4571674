#include "repo/read_ranges.h"

namespace lifeboat::repo {

std::vector<ReadRange> coalesce_reads(std::span<const BlobSpan> blobs, const RangeLimits& limits) {
  std::vector<ReadRange> ranges;
  for (size_t i = 0; i < blobs.size(); ++i) {
    const BlobSpan& b = blobs[i];
    const uint64_t end = b.offset + b.length;
    if (!ranges.empty()) {
      ReadRange& r = ranges.back();
      const uint64_t r_end = r.offset + r.length;
      if (r.pack == b.pack && b.offset >= r_end && b.offset - r_end <= limits.max_gap &&
          end - r.offset <= limits.max_range) {
        r.length = end - r.offset;
        r.end = i + 1;
        continue;
      }
    }
    ranges.push_back(ReadRange{b.pack, b.offset, b.length, i, i + 1});
  }
  return ranges;
}

}  // namespace lifeboat::repo
