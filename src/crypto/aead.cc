#include "crypto/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>

#include "base/error.h"
#include "crypto/openssl_error.h"

namespace lifeboat::crypto {
namespace {

// Fetched once (see mac.cc): an implicit fetch would look the provider up on
// every seal/open.
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* c = [] {
    EVP_CIPHER* f = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (!f) openssl_failed("EVP_CIPHER_fetch(AES-256-GCM)");
    return f;
  }();
  return c;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

CipherCtxPtr new_ctx() {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) openssl_failed("EVP_CIPHER_CTX_new");
  return ctx;
}

// EVP_*Update take an int length; feed large inputs in slices.
constexpr size_t kMaxSlice = size_t{1} << 30;

}  // namespace

Nonce counter_nonce(uint64_t counter) {
  Nonce n{};
  put_u64le(n.data() + 4, counter);
  return n;
}

void Aead::seal(const Nonce& nonce, ByteView plaintext, ByteView aad, Bytes& out) const {
  CipherCtxPtr ctx = new_ctx();
  // 12 bytes is GCM's default IV length, so no EVP_CTRL_GCM_SET_IVLEN.
  if (EVP_EncryptInit_ex2(ctx.get(), aes_256_gcm(), key_.data(), nonce.data(), nullptr) != 1) {
    openssl_failed("EVP_EncryptInit_ex2(AES-256-GCM)");
  }
  int len = 0;
  for (size_t off = 0; off < aad.size(); off += kMaxSlice) {
    size_t n = std::min(kMaxSlice, aad.size() - off);
    if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data() + off, static_cast<int>(n)) != 1) {
      openssl_failed("EVP_EncryptUpdate(aad)");
    }
  }
  const size_t start = out.size();
  out.resize(start + plaintext.size() + kTagSize);
  uint8_t* dst = out.data() + start;
  for (size_t off = 0; off < plaintext.size(); off += kMaxSlice) {
    size_t n = std::min(kMaxSlice, plaintext.size() - off);
    if (EVP_EncryptUpdate(ctx.get(), dst + off, &len, plaintext.data() + off,
                          static_cast<int>(n)) != 1 ||
        static_cast<size_t>(len) != n) {
      openssl_failed("EVP_EncryptUpdate");
    }
  }
  uint8_t* tag = dst + plaintext.size();
  if (EVP_EncryptFinal_ex(ctx.get(), tag, &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    openssl_failed("EVP_EncryptFinal_ex(AES-256-GCM)");
  }
}

bool Aead::open(const Nonce& nonce, ByteView ciphertext_and_tag, ByteView aad, Bytes& out) const {
  if (ciphertext_and_tag.size() < kTagSize) return false;
  const size_t n_ct = ciphertext_and_tag.size() - kTagSize;
  ByteView ct = ciphertext_and_tag.first(n_ct);
  ByteView tag = ciphertext_and_tag.subspan(n_ct);

  CipherCtxPtr ctx = new_ctx();
  if (EVP_DecryptInit_ex2(ctx.get(), aes_256_gcm(), key_.data(), nonce.data(), nullptr) != 1) {
    openssl_failed("EVP_DecryptInit_ex2(AES-256-GCM)");
  }
  // SET_TAG only copies the tag; the const_cast is for the C signature.
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                          const_cast<uint8_t*>(tag.data())) != 1) {
    openssl_failed("EVP_CTRL_GCM_SET_TAG");
  }
  int len = 0;
  for (size_t off = 0; off < aad.size(); off += kMaxSlice) {
    size_t n = std::min(kMaxSlice, aad.size() - off);
    if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data() + off, static_cast<int>(n)) != 1) {
      openssl_failed("EVP_DecryptUpdate(aad)");
    }
  }
  out.resize(n_ct);
  for (size_t off = 0; off < n_ct; off += kMaxSlice) {
    size_t n = std::min(kMaxSlice, n_ct - off);
    if (EVP_DecryptUpdate(ctx.get(), out.data() + off, &len, ct.data() + off,
                          static_cast<int>(n)) != 1 ||
        static_cast<size_t>(len) != n) {
      openssl_failed("EVP_DecryptUpdate");
    }
  }
  // Final verifies the tag; GCM never writes output here. A failure is the
  // normal "not authentic" answer, not an OpenSSL malfunction.
  uint8_t unused[16];
  if (EVP_DecryptFinal_ex(ctx.get(), unused, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

}  // namespace lifeboat::crypto
