#include "node/databases.h"

#include <limits.h>

#include <algorithm>
#include <memory>
#include <set>

#include "base/error.h"
#include "base/shell_command.h"

namespace lifeboat::node {

namespace {

constexpr size_t kMaxListOutput = 1u << 20;
constexpr size_t kSuffixLength = sizeof(kDumpSuffix) - 1;

}  // namespace

std::optional<std::string> database_name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name == "." || name == "..") return "it is '.' or '..'";
  if (name.find('/') != std::string_view::npos) return "it contains '/'";
  if (name.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  if (name.size() + kSuffixLength > NAME_MAX)
    return "it is longer than " + std::to_string(NAME_MAX - kSuffixLength) + " bytes";
  return std::nullopt;
}

DatabaseDumper::DatabaseDumper(const DatabaseCommands& commands)
    : list_(ShellTemplate::parse(commands.list, {"account"}, "--db-list-command")),
      dump_(ShellTemplate::parse(commands.dump, {"db", "account"}, "--db-dump-command")) {
  if (!dump_.uses("db"))
    throw Error(ErrorCode::kInvalidArgument,
                "--db-dump-command '" + commands.dump +
                    "' does not use {db}: it would dump the same thing for every database");
}

DatabasePlan DatabaseDumper::plan(const std::string& account) const {
  DatabasePlan plan;
  plan.dir.path = kDatabaseDir;
  std::string output;
  try {
    ShellCommand list(list_.expand({{"account", account}}),
                      "database list command for account " + account);
    output = list.read_to_end(kMaxListOutput + 1);
    list.finish();
    if (output.size() > kMaxListOutput)
      throw Error(ErrorCode::kIo, "database list command for account " + account +
                                      " printed more than 1 MiB; it should print one database "
                                      "name a line");
  } catch (const Error& e) {
    plan.list_error = e.message();
    plan.dir.errors.push_back(e.message());
    return plan;
  }

  std::set<std::string> seen;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    if (end == std::string::npos) end = output.size();
    std::string name = output.substr(pos, end - pos);
    pos = end + 1;
    if (name.empty() || !seen.insert(name).second) continue;
    if (auto problem = database_name_problem(name)) {
      std::string message = "database '" + name + "' of account " + account +
                            " cannot be dumped: its name cannot be a file name (" + *problem + ")";
      plan.refused.push_back({name, 0, message});
      plan.dir.errors.push_back(std::move(message));
      continue;
    }
    std::string command = dump_.expand({{"db", name}, {"account", account}});
    plan.dir.files.push_back(
        {name + kDumpSuffix, [command, name]() -> std::unique_ptr<ByteStream> {
           return std::make_unique<ShellCommand>(command, "dump of database " + name);
         }});
  }
  return plan;
}

std::vector<DatabaseDump> DatabaseDumper::results(
    const DatabasePlan& plan, const std::vector<backup::StreamedOutcome>& outcomes) {
  std::vector<DatabaseDump> out = plan.refused;
  for (const auto& o : outcomes) {
    std::string name = o.name;
    if (name.size() >= kSuffixLength && name.ends_with(kDumpSuffix))
      name.resize(name.size() - kSuffixLength);
    out.push_back({std::move(name), o.bytes, o.error});
  }
  return out;
}

}  // namespace lifeboat::node
