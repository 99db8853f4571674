#include "crypto/openssl_error.h"

#include <openssl/err.h>

#include <string>

#include "base/error.h"

namespace lifeboat::crypto {

void openssl_failed(const char* what) {
  char buf[256] = "no details";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw Error(ErrorCode::kInternal, std::string("OpenSSL ") + what + " failed: " + buf);
}

}  // namespace lifeboat::crypto
