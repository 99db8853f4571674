#include "repo/pack_reader.h"

#include <algorithm>

#include "base/error.h"
#include "repo/pack.h"

namespace lifeboat::repo {

PackInfo read_pack_trailer(backend::Backend& backend, const crypto::Key32& encryption_key,
                           const Id& pack, uint64_t size, ByteView tail, uint64_t guess) {
  const backend::Handle h{backend::ObjectType::kData, pack.hex()};
  if (size < kPackHeaderSize + kPackFooterSize)
    throw Error(ErrorCode::kCorrupt,
                "pack " + pack.hex() + " is damaged: only " + std::to_string(size) + " bytes long");
  Bytes loaded;
  if (tail.empty()) {
    uint64_t n = std::min<uint64_t>(size, std::max<uint64_t>(guess, kPackFooterSize));
    loaded = backend.load(h, size - n, n);
    tail = loaded;
  }
  const PackFooter footer = parse_pack_footer(tail, pack);
  const uint64_t need = uint64_t{footer.trailer_length} + kPackFooterSize;
  if (need + kPackHeaderSize > size)
    throw Error(ErrorCode::kCorrupt, "pack " + pack.hex() +
                                         " is damaged: its footer gives a trailer of " +
                                         std::to_string(footer.trailer_length) +
                                         " bytes, more than the pack holds");
  Bytes trailer_bytes;
  ByteView trailer;
  if (need <= tail.size()) {
    trailer = tail.subspan(tail.size() - need, footer.trailer_length);
  } else {
    trailer_bytes = backend.load(h, size - need, footer.trailer_length);
    trailer = trailer_bytes;
  }
  PackInfo info{pack, footer.salt, parse_pack_trailer(encryption_key, footer, trailer, size, pack)};
  std::sort(info.entries.begin(), info.entries.end(),
            [](const PackEntry& a, const PackEntry& b) { return a.offset < b.offset; });
  return info;
}

}  // namespace lifeboat::repo
