#include "repo/compress.h"

#include <zstd.h>

#include "base/error.h"

namespace lifeboat::repo {

namespace {

// One compression and one decompression context per thread, created on first
// use and reused for every blob (contexts are expensive to set up).
struct ZstdContexts {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

ZstdContexts& contexts() {
  thread_local ZstdContexts ctx;
  return ctx;
}

}  // namespace

Compression compress(ByteView in, Bytes& out, const CompressOptions& options) {
  out.clear();
  if (options.level <= 0 || in.size() < 64) return Compression::kNone;
  // Only worth storing compressed if it saves at least 1/32 of the size.
  size_t limit = in.size() - in.size() / 32;
  out.resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(contexts().cctx, out.data(), out.size(), in.data(), in.size(),
                               options.level);
  if (ZSTD_isError(n) || n >= limit) {
    out.clear();
    return Compression::kNone;
  }
  out.resize(n);
  return Compression::kZstd;
}

void decompress(ByteView in, size_t raw_size, Bytes& out) {
  out.resize(raw_size);
  size_t n = ZSTD_decompressDCtx(contexts().dctx, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != raw_size)
    throw Error(ErrorCode::kCorrupt, std::string("blob does not decompress: ") +
                                         (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
}

}  // namespace lifeboat::repo
