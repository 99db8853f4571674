// Database dumps in account snapshots. Two shell templates configure them:
// a list command that prints an account's database names, one a line
// ({account} substituted), and a dump command that writes one database as
// SQL to stdout ({db} and {account} substituted). Every dump is streamed
// into the account's snapshot as .lifeboat/databases/<db>.sql (a
// backup::StreamedDir): read from the command's stdout as it is written,
// never staged on local disk.
//
// Values are quoted for their place in the template (base/shell_template.h),
// so a database name from the server never becomes shell syntax, and are
// checked before they become file names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backup/archiver.h"
#include "base/shell_template.h"

namespace lifeboat::node {

// Where the dumps are in every account snapshot, and their file names.
inline constexpr char kDatabaseDir[] = ".lifeboat/databases";
inline constexpr char kDumpSuffix[] = ".sql";

struct DatabaseCommands {
  std::string list;  // e.g. mysql -N -B -r -e "SHOW DATABASES LIKE '{account}\_%'"
  std::string dump;  // e.g. mysqldump --single-transaction --databases {db}
};

// What became of one database's dump.
struct DatabaseDump {
  std::string name;
  uint64_t bytes = 0;  // bytes of SQL stored (up to the failure, if it failed)
  std::string error;   // empty if the dump completed
};

// The dumps of one account, ready for backup::run_backup.
struct DatabasePlan {
  backup::StreamedDir dir;  // one file per database; trouble also in dir.errors
  // Names the list printed that cannot be dumped (they cannot be file names).
  std::vector<DatabaseDump> refused;
  std::string list_error;  // the list command failed: nothing is dumped
};

// Why `name` cannot name a dump file (empty, ".", "..", contains '/' or
// NUL, too long for "<name>.sql"), or nullopt if it can.
std::optional<std::string> database_name_problem(std::string_view name);

class DatabaseDumper {
 public:
  // Parses both templates. Throws Error(kInvalidArgument) naming the flag
  // (--db-list-command, --db-dump-command) if one is unusable or the dump
  // command does not use {db}.
  explicit DatabaseDumper(const DatabaseCommands& commands);

  // Runs the list command for `account` (its output is bounded to 1 MiB)
  // and plans one streamed file per database; the dump commands run only
  // when the backup opens those files, one after another. Never throws for
  // the list command's failure: that is recorded in the plan.
  DatabasePlan plan(const std::string& account) const;

  // Every database of the plan with the outcome of its dump, refused names
  // first, then in the plan's order.
  static std::vector<DatabaseDump> results(const DatabasePlan& plan,
                                           const std::vector<backup::StreamedOutcome>& outcomes);

 private:
  ShellTemplate list_;
  ShellTemplate dump_;
};

}  // namespace lifeboat::node
