// lifeboat version.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

CommandRun setup_version(CLI::App& app, const GlobalOptions& g) {
  app.add_subcommand("version", "print the version of lifeboat");
  return [&g]() -> int {
    if (g.json)
      print_json(Json{{"version", kVersion}, {"repository_format", 1}});
    else
      print_out(fmt::format("lifeboat {} (repository format v1)\n", kVersion));
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
