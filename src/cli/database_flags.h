// --db-list-command and --db-dump-command, shared by `backup` and
// `node backup`, and the JSON of the dumps' outcomes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "node/databases.h"

namespace lifeboat::cli {

struct DatabaseFlags {
  std::string list;
  std::string dump;
  // The commands if both flags are given, nullopt if neither; throws
  // Error(kInvalidArgument) if only one is.
  std::optional<node::DatabaseCommands> commands() const;
};

void add_database_flags(CLI::App* cmd, DatabaseFlags& flags);

// [{"name", "bytes", "error"}...], error null for a dump that completed.
Json databases_json(const std::vector<node::DatabaseDump>& dumps);

}  // namespace lifeboat::cli
