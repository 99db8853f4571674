#include "repo/sealed.h"

#include <cstring>
#include <string>

#include "base/error.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "repo/compress.h"

namespace lifeboat::repo {

namespace {
constexpr char kMagic[4] = {'L', 'B', 'O', 1};
constexpr size_t kSaltSize = 32;
constexpr size_t kHeaderSize = sizeof kMagic + kSaltSize;

Bytes make_aad(std::string_view context) {
  Bytes aad(kMagic, kMagic + sizeof kMagic);
  append(aad, as_bytes(context));
  return aad;
}
}  // namespace

Bytes seal_object(const crypto::Key32& encryption_key, std::string_view context, ByteView payload,
                  bool compress_payload) {
  Bytes compressed;
  Compression c = compress_payload ? compress(payload, compressed, CompressOptions{})
                                   : Compression::kNone;
  ByteView body = c == Compression::kZstd ? ByteView(compressed) : payload;

  Bytes plain(5 + body.size());
  plain[0] = static_cast<uint8_t>(c);
  put_u32le(&plain[1], static_cast<uint32_t>(payload.size()));
  std::memcpy(plain.data() + 5, body.data(), body.size());

  Bytes out(kMagic, kMagic + sizeof kMagic);
  out.resize(kHeaderSize);
  crypto::random_bytes(MutableByteView(out.data() + sizeof kMagic, kSaltSize));
  crypto::Key32 subkey = crypto::hkdf_sha256(
      encryption_key, ByteView(out.data() + sizeof kMagic, kSaltSize), "lifeboat object");
  out.reserve(kHeaderSize + plain.size() + crypto::kTagSize);
  crypto::Aead(subkey).seal(crypto::counter_nonce(0), plain, make_aad(context), out);
  return out;
}

Bytes open_object(const crypto::Key32& encryption_key, std::string_view context, ByteView sealed,
                  std::string_view what) {
  auto damaged = [&](const char* why) {
    return Error(ErrorCode::kCorrupt, std::string(what) + " is damaged: " + why +
                                          "; run 'lifeboat check' to see what it affects");
  };
  if (sealed.size() < kHeaderSize + crypto::kTagSize + 5 ||
      std::memcmp(sealed.data(), kMagic, sizeof kMagic) != 0)
    throw damaged("not a lifeboat object");
  crypto::Key32 subkey = crypto::hkdf_sha256(
      encryption_key, sealed.subspan(sizeof kMagic, kSaltSize), "lifeboat object");
  Bytes plain;
  if (!crypto::Aead(subkey).open(crypto::counter_nonce(0), sealed.subspan(kHeaderSize),
                                 make_aad(context), plain))
    throw damaged("authentication failed");
  auto c = static_cast<Compression>(plain[0]);
  uint32_t raw_size = get_u32le(&plain[1]);
  ByteView body(plain.data() + 5, plain.size() - 5);
  if (c == Compression::kNone) {
    if (body.size() != raw_size) throw damaged("wrong length");
    return Bytes(body.begin(), body.end());
  }
  if (c != Compression::kZstd) throw damaged("unknown compression");
  Bytes out;
  decompress(body, raw_size, out);
  return out;
}

}  // namespace lifeboat::repo
