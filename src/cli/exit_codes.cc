#include "cli/exit_codes.h"

namespace lifeboat::cli {

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return kExitUsage;
    case ErrorCode::kNotFound: return kExitNotFound;
    case ErrorCode::kNotARepository: return kExitNoRepository;
    case ErrorCode::kWrongPassword: return kExitWrongPassword;
    case ErrorCode::kCorrupt: return kExitDamaged;
    case ErrorCode::kNoSpace: return kExitNoSpace;
    case ErrorCode::kPermission: return kExitPermission;
    case ErrorCode::kInterrupted: return kExitInterrupted;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kIo:
    case ErrorCode::kUnavailable:
    case ErrorCode::kInternal: return kExitFatal;
  }
  return kExitFatal;
}

const char* exit_code_help() {
  return "Exit codes:\n"
         "  0    success\n"
         "  1    fatal error\n"
         "  2    usage error (bad flag, argument or id; no password source)\n"
         "  3    partial: backup saved but some files could not be read,\n"
         "       or restore finished with some entries failed\n"
         "  10   repository does not exist or is not a repository\n"
         "  11   repository data damaged (check found problems, or an object\n"
         "       failed verification)\n"
         "  12   wrong password\n"
         "  13   no space left\n"
         "  14   permission denied\n"
         "  15   not found (snapshot, path in a snapshot, path to back up)\n"
         "  130  interrupted (SIGINT/SIGTERM)\n"
         "\n"
         "Environment: LIFEBOAT_REPOSITORY, LIFEBOAT_PASSWORD_FILE,\n"
         "LIFEBOAT_PASSWORD_COMMAND, LIFEBOAT_PASSWORD. See docs/CLI.md.";
}

}  // namespace lifeboat::cli
