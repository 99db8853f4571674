// The exit codes of the lifeboat binary: a stable, documented contract for
// scripts and schedulers (docs/CLI.md "Exit codes"). Every failure reaches
// the user as an ErrorCode; exit_code_for() is the one place that turns it
// into a number.
#pragma once

#include "base/error.h"

namespace lifeboat::cli {

enum ExitCode : int {
  kExitOk = 0,             // success
  kExitFatal = 1,          // fatal error (anything not listed below)
  kExitUsage = 2,          // usage error: bad flags, arguments, ids; no password source
  kExitPartial = 3,        // backup saved but some files unreadable; restore with failed entries
  kExitNoRepository = 10,  // the location does not exist or holds no repository
  kExitDamaged = 11,       // repository data damaged (check found problems, verification failed)
  kExitWrongPassword = 12, // no key file opens with the password
  kExitNoSpace = 13,       // no space left (repository disk or restore target)
  kExitPermission = 14,    // the OS refused access
  kExitNotFound = 15,      // snapshot, path in a snapshot, backup source not found
  kExitInterrupted = 130,  // SIGINT / SIGTERM
};

// The exit code for an error of this kind.
int exit_code_for(ErrorCode code);

// The exit code table as printed at the end of `lifeboat --help`.
const char* exit_code_help();

}  // namespace lifeboat::cli
