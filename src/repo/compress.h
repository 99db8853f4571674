// Blob compression: zstd, skipped for data that does not compress (media,
// archives), so incompressible blobs cost one fast probe, not a store of a
// larger blob.
#pragma once

#include <cstdint>

#include "base/bytes.h"

namespace lifeboat::repo {

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

struct CompressOptions {
  int level = 3;          // zstd level; 0 disables compression
};

// Compresses `in` into `out` (replacing its contents) and returns kZstd, or
// leaves `out` empty and returns kNone when compression would save less than
// 1/32 of the size.  Thread-safe (a zstd context per thread, reused).
Compression compress(ByteView in, Bytes& out, const CompressOptions& options);

// Decompresses into `out` (resized to raw_size). Throws Error(kCorrupt) when
// the input is not valid zstd or does not decompress to exactly raw_size.
void decompress(ByteView in, size_t raw_size, Bytes& out);

}  // namespace lifeboat::repo
