// The one error mechanism of lifeboat.
//
// Library code throws lifeboat::Error; the code says what kind of failure it
// is (retryable? data loss? the user's fault?), the message names the object
// and what to do next. Errors are caught in exactly two kinds of places: the
// CLI (which turns the code into a documented exit code, see src/cli/exit_codes.h) and
// isolation boundaries (one file during backup, one account during a node
// job) where one object's trouble must not stop the others.
//
// Why exceptions and not Result<T>: the pipelines are deep call chains across
// worker threads, and the hot paths never fail in the common case; exceptions
// keep those paths free of per-call branches and keep the code short. The
// codes below keep what a Result would carry (retryable, data loss).
#pragma once

#include <cerrno>
#include <exception>
#include <string>
#include <string_view>

namespace lifeboat {

enum class ErrorCode {
  kInvalidArgument,  // bad input from the user (flags, ids, URLs)
  kNotFound,         // an object, snapshot or path does not exist
  kAlreadyExists,    // create-only storage refused an overwrite
  kNotARepository,   // the location holds no lifeboat repository
  kWrongPassword,    // no key file opens with the given password
  kCorrupt,          // data failed authentication or does not parse
  kIo,               // any other I/O failure
  kNoSpace,          // the disk (or quota) is full
  kPermission,       // the OS refused access
  kUnavailable,      // transient: a retry may succeed
  kInterrupted,      // the user asked us to stop
  kInternal,         // a bug in lifeboat
};

const char* error_code_name(ErrorCode code);

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const { return message_; }
  bool retryable() const { return code_ == ErrorCode::kUnavailable; }

 private:
  ErrorCode code_;
  std::string message_;
};

// Maps an errno value to the error code that describes it.
ErrorCode error_code_from_errno(int err);

// Throws an Error for a failed system call: "<what>: <strerror>".
[[noreturn]] void throw_errno(std::string_view what, int err = errno);

}  // namespace lifeboat
