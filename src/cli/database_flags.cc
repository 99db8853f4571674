#include "cli/database_flags.h"

#include "base/error.h"

namespace lifeboat::cli {

std::optional<node::DatabaseCommands> DatabaseFlags::commands() const {
  if (list.empty() && dump.empty()) return std::nullopt;
  if (list.empty() || dump.empty())
    throw Error(ErrorCode::kInvalidArgument,
                "--db-list-command and --db-dump-command go together; give both or neither");
  return node::DatabaseCommands{list, dump};
}

void add_database_flags(CLI::App* cmd, DatabaseFlags& flags) {
  cmd->add_option("--db-list-command", flags.list,
                  "shell command printing the account's databases, one a line; {account} is "
                  "replaced by the account name (quoted for its place)");
  cmd->add_option("--db-dump-command", flags.dump,
                  "shell command writing one database as SQL to stdout, streamed into the "
                  "snapshot as .lifeboat/databases/<db>.sql; {db} and {account} are replaced");
}

Json databases_json(const std::vector<node::DatabaseDump>& dumps) {
  Json out = Json::array();
  for (const auto& d : dumps)
    out.push_back(Json{{"name", json_bytes(d.name)},
                       {"bytes", d.bytes},
                       {"error", d.error.empty() ? Json(nullptr) : Json(d.error)}});
  return out;
}

}  // namespace lifeboat::cli
