// Sealed objects: the envelope of every encrypted object that is not a pack
// (config, index segments, snapshots). docs/FORMAT.md "Sealed objects".
//
//   "LBO\x01" | salt (32) | AES-256-GCM(subkey, nonce 0, aad = magic || context)
//   subkey    = HKDF-SHA-256(encryption key, salt, "lifeboat object")
//   plaintext = compression (u8) | raw length (u32 LE) | payload
//
// The context string ("config", "index", "snapshot") is authenticated, so an
// object cannot be passed off as one of another kind.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "crypto/mac.h"

namespace lifeboat::repo {

Bytes seal_object(const crypto::Key32& encryption_key, std::string_view context, ByteView payload,
                  bool compress_payload = true);

// Throws Error(kCorrupt) with `what` in the message if the object does not
// authenticate or decode.
Bytes open_object(const crypto::Key32& encryption_key, std::string_view context, ByteView sealed,
                  std::string_view what);

}  // namespace lifeboat::repo
