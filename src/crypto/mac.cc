#include "crypto/mac.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <string>

#include "base/error.h"
#include "crypto/openssl_error.h"

namespace lifeboat::crypto {
namespace {

// Algorithms are fetched once and kept for the life of the process: an
// implicit fetch (EVP_sha256() and friends) looks the provider up on every
// call, under a lock.
const EVP_MD* sha256_md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) openssl_failed("EVP_MD_fetch(SHA256)");
    return m;
  }();
  return md;
}

EVP_MAC* hmac_alg() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!m) openssl_failed("EVP_MAC_fetch(HMAC)");
    return m;
  }();
  return mac;
}

EVP_KDF* hkdf_alg() {
  static EVP_KDF* kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (!k) openssl_failed("EVP_KDF_fetch(HKDF)");
    return k;
  }();
  return kdf;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

char kSha256Name[] = "SHA256";  // OSSL_PARAM wants a non-const pointer

}  // namespace

struct IdHasher::Impl {
  MacCtxPtr keyed;  // initialized with the key; only ever duplicated, never used
};

IdHasher::IdHasher(const Key32& id_key) : impl_(new Impl) {
  std::unique_ptr<Impl> guard(impl_);
  impl_->keyed.reset(EVP_MAC_CTX_new(hmac_alg()));
  if (!impl_->keyed) openssl_failed("EVP_MAC_CTX_new");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, kSha256Name, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(impl_->keyed.get(), id_key.data(), id_key.size(), params) != 1) {
    openssl_failed("EVP_MAC_init(HMAC-SHA256)");
  }
  guard.release();
}

IdHasher::~IdHasher() { delete impl_; }

Id IdHasher::mac(ByteView plaintext) const {
  // The copy carries the already-absorbed inner and outer key blocks, so each
  // call starts hashing the message right away.
  MacCtxPtr ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
  if (!ctx) openssl_failed("EVP_MAC_CTX_dup");
  Id id;
  size_t len = 0;
  if (EVP_MAC_update(ctx.get(), plaintext.data(), plaintext.size()) != 1 ||
      EVP_MAC_final(ctx.get(), id.bytes.data(), &len, id.bytes.size()) != 1 ||
      len != id.bytes.size()) {
    openssl_failed("HMAC-SHA256");
  }
  return id;
}

Id sha256(ByteView data) {
  Id id;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), id.bytes.data(), &len, sha256_md(), nullptr) != 1 ||
      len != id.bytes.size()) {
    openssl_failed("EVP_Digest(SHA256)");
  }
  return id;
}

Sha256Stream::Sha256Stream() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) openssl_failed("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    openssl_failed("EVP_DigestInit_ex2(SHA256)");
  }
  ctx_ = ctx;
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256Stream::update(ByteView data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1) {
    openssl_failed("EVP_DigestUpdate(SHA256)");
  }
}

Id Sha256Stream::finish() {
  Id id;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), id.bytes.data(), &len) != 1 ||
      len != id.bytes.size()) {
    openssl_failed("EVP_DigestFinal_ex(SHA256)");
  }
  return id;
}

Key32 hkdf_sha256(const Key32& key, ByteView salt, std::string_view info) {
  return hkdf_sha256(ByteView(key), salt, info);
}

Key32 hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info) {
  if (ikm.empty()) throw Error(ErrorCode::kInvalidArgument, "hkdf_sha256: empty input key");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(hkdf_alg()));
  if (!ctx) openssl_failed("EVP_KDF_CTX_new(HKDF)");
  // Empty salt and info are left out rather than passed with length zero,
  // which OpenSSL 3.0 rejects. RFC 5869 defines a missing salt as HashLen
  // zero bytes, the same HMAC key as an empty one after padding.
  auto octets = [](const char* name, const void* p, size_t n) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<void*>(p), n);
  };
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, kSha256Name, 0);
  *p++ = octets(OSSL_KDF_PARAM_KEY, ikm.data(), ikm.size());
  if (!salt.empty()) *p++ = octets(OSSL_KDF_PARAM_SALT, salt.data(), salt.size());
  if (!info.empty()) *p++ = octets(OSSL_KDF_PARAM_INFO, info.data(), info.size());
  *p = OSSL_PARAM_construct_end();
  Key32 out;
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    openssl_failed("EVP_KDF_derive(HKDF-SHA256)");
  }
  return out;
}

}  // namespace lifeboat::crypto
