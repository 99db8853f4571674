#include "base/error.h"

#include <cstring>

namespace lifeboat {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kNotARepository: return "not a repository";
    case ErrorCode::kWrongPassword: return "wrong password";
    case ErrorCode::kCorrupt: return "damaged data";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kNoSpace: return "no space left";
    case ErrorCode::kPermission: return "permission denied";
    case ErrorCode::kUnavailable: return "temporarily unavailable";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

ErrorCode error_code_from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return ErrorCode::kNotFound;
    case EEXIST: return ErrorCode::kAlreadyExists;
    case ENOSPC:
    case EDQUOT: return ErrorCode::kNoSpace;
    case EACCES:
    case EPERM:
    case EROFS: return ErrorCode::kPermission;
    case EINTR:
    case EAGAIN:
    case ETIMEDOUT:
    case ECONNRESET: return ErrorCode::kUnavailable;
    case EINVAL: return ErrorCode::kInvalidArgument;
    default: return ErrorCode::kIo;
  }
}

void throw_errno(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  throw Error(error_code_from_errno(err), std::move(message));
}

}  // namespace lifeboat
