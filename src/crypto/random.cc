#include "crypto/random.h"

#include <sodium.h>

#include "base/error.h"

namespace lifeboat::crypto {
namespace {

// sodium_init() picks the entropy source; a function-local static makes the
// first caller do it exactly once, whichever thread that is.
void ensure_sodium() {
  static const bool ok = [] {
    if (sodium_init() < 0) throw Error(ErrorCode::kInternal, "libsodium failed to initialize");
    return true;
  }();
  (void)ok;
}

}  // namespace

void random_bytes(MutableByteView out) {
  ensure_sodium();
  if (out.empty()) return;  // randombytes_buf's pointer is declared non-null
  randombytes_buf(out.data(), out.size());
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  random_bytes(MutableByteView(b));
  return b;
}

}  // namespace lifeboat::crypto
