#include "crypto/kdf.h"

#include <sodium.h>

#include <string>

#include "base/error.h"

namespace lifeboat::crypto {

static_assert(kKdfSaltSize == crypto_pwhash_SALTBYTES);

Key32 derive_key(std::string_view password, ByteView salt, const KdfParams& params) {
  // sodium_init() is idempotent and thread-safe; crypto_pwhash needs it for
  // its CPU feature detection (the fast Argon2 code paths).
  static const bool sodium_ready = sodium_init() >= 0;
  if (!sodium_ready) throw Error(ErrorCode::kInternal, "libsodium failed to initialize");

  if (salt.size() != kKdfSaltSize) {
    throw Error(ErrorCode::kInvalidArgument, "key derivation salt must be " +
                                                 std::to_string(kKdfSaltSize) + " bytes, got " +
                                                 std::to_string(salt.size()));
  }
  if (params.ops_limit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.mem_limit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params.mem_limit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    throw Error(ErrorCode::kInvalidArgument,
                "Argon2id parameters out of range: ops_limit=" + std::to_string(params.ops_limit) +
                    " mem_limit=" + std::to_string(params.mem_limit));
  }
  Key32 key;
  if (crypto_pwhash(key.data(), key.size(), password.data(), password.size(), salt.data(),
                    params.ops_limit, static_cast<size_t>(params.mem_limit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw Error(ErrorCode::kInternal, "Argon2id key derivation failed (out of memory? mem_limit=" +
                                          std::to_string(params.mem_limit) + " bytes)");
  }
  return key;
}

}  // namespace lifeboat::crypto
