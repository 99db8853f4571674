// lifeboat init: create a repository (config and a first key file), on its
// own or as a tier of another (--copy-params-from: copy/shared_params.h).
#include <memory>

#include <fmt/format.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "copy/shared_params.h"

namespace lifeboat::cli {

CommandRun setup_init(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    std::string label;
    std::string copy_params_from;
    std::string from_password_file;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("init", "create a repository at --repo");
  cmd->add_option("--label", flags->label, "a label for the first key (e.g. the node name)");
  cmd->add_option("--copy-params-from", flags->copy_params_from,
                  "share the chunking settings and blob id keys of repository OTHER (a tier "
                  "that `lifeboat copy` fills from it); the encryption key and password are "
                  "the new repository's own");
  cmd->add_option("--from-password-file", flags->from_password_file,
                  "password of the --copy-params-from repository (else "
                  "LIFEBOAT_FROM_PASSWORD_FILE, LIFEBOAT_FROM_PASSWORD_COMMAND, "
                  "LIFEBOAT_FROM_PASSWORD, or a prompt)");

  return [flags, &g]() -> int {
    std::string location = repository_location(g);
    std::unique_ptr<backend::Backend> backend = backend::open_backend(location);
    if (backend->size({backend::ObjectType::kConfig, "config"}))
      throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " +
                                                 backend->location() + "; nothing was changed");
    // The other repository opens first: a wrong password there stops
    // before anything is asked for or written here.
    std::unique_ptr<repo::Repository> other;
    if (!flags->copy_params_from.empty())
      other = open_repository_at(g, flags->copy_params_from, false, [&] {
        return get_password_from(PasswordSource{flags->from_password_file, "--from-password-file",
                                                "LIFEBOAT_FROM", "the --copy-params-from repository"},
                                 false);
      });
    std::string password = get_password(g, true);
    repo::Config config = repo::Config::make_new();
    if (other) {
      config = copy::init_sharing_params(*backend, password, kdf_params_for_new_keys(),
                                         new_key_info(flags->label), *other);
    } else {
      repo::Repository::init(*backend, password, kdf_params_for_new_keys(),
                             new_key_info(flags->label), config);
    }
    if (fast_kdf_requested())
      print_warning("LIFEBOAT_TEST_FAST_KDF=1: the key uses test-only key derivation that is "
                    "cheap to brute-force; never use it for real data");
    if (g.json) {
      Json out{{"id", config.id}, {"location", backend->location()}};
      if (other) out["copy_params_from"] = other->location();
      print_json(out);
    } else if (!g.quiet) {
      print_out(fmt::format(
          "created lifeboat repository {} at {}\n\n"
          "Keep the password safe: without it the data cannot be read, by you or anyone.\n",
          config.id.substr(0, 8), backend->location()));
      if (other)
        print_out(fmt::format("It shares chunking and blob ids with {}: `lifeboat copy --repo {} "
                              "--to {}` sends only what it lacks.\n",
                              other->location(), other->location(), backend->location()));
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
