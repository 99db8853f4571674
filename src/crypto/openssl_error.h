// Turns a failed OpenSSL call into lifeboat::Error (internal to crypto/).
#pragma once

namespace lifeboat::crypto {

// Throws Error(kInternal) "OpenSSL <what> failed: <first queued error>".
[[noreturn]] void openssl_failed(const char* what);

}  // namespace lifeboat::crypto
