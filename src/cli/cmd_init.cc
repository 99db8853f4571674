// lifeboat init: create a repository (config and a first key file).
#include <memory>

#include <fmt/format.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

CommandRun setup_init(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    std::string label;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("init", "create a repository at --repo");
  cmd->add_option("--label", flags->label, "a label for the first key (e.g. the node name)");

  return [flags, &g]() -> int {
    std::string location = repository_location(g);
    std::unique_ptr<backend::Backend> backend = backend::open_backend(location);
    if (backend->size({backend::ObjectType::kConfig, "config"}))
      throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " +
                                                 backend->location() + "; nothing was changed");
    std::string password = get_password(g, true);
    repo::Config config = repo::Config::make_new();
    repo::Repository::init(*backend, password, kdf_params_for_new_keys(),
                           new_key_info(flags->label), config);
    if (fast_kdf_requested())
      print_warning("LIFEBOAT_TEST_FAST_KDF=1: the key uses test-only key derivation that is "
                    "cheap to brute-force; never use it for real data");
    if (g.json) {
      print_json(Json{{"id", config.id}, {"location", backend->location()}});
    } else if (!g.quiet) {
      print_out(fmt::format(
          "created lifeboat repository {} at {}\n\n"
          "Keep the password safe: without it the data cannot be read, by you or anyone.\n",
          config.id.substr(0, 8), backend->location()));
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
