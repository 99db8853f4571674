// lifeboat: the command-line entry point. Parses the command line with the
// command table below, runs the chosen command, and turns every failure into
// one stderr line and a documented exit code (exit_codes.h).
#include <malloc.h>
#include <unistd.h>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {
namespace {

// One entry per command group, in the order `lifeboat --help` lists them.
constexpr CommandSetup kCommands[] = {
    setup_init,  setup_backup, setup_node, setup_plan, setup_snapshots, setup_ls,      setup_diff,
    setup_restore, setup_check, setup_copy, setup_forget, setup_prune, setup_repair, setup_drill, setup_stats, setup_cat, setup_key, setup_version, setup_serve,
};

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("--repo", g.repos,
                 "repository location (a directory path); 'plan', 'restore' and 'node restore' "
                 "take several --repo")
      ->envname("LIFEBOAT_REPOSITORY")
      ->allow_extra_args(false)
      ->group("Global options");
  app.add_option("--password-file", g.password_file,
                 "read the repository password from the first line of FILE "
                 "(else LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND, LIFEBOAT_PASSWORD, "
                 "or a prompt on a terminal)")
      ->group("Global options");
  app.add_option("--repo-password-file", g.repo_password_files,
                 "with several --repo: the password of the repository given in the same "
                 "position (repeatable; '' = the common password)")
      ->allow_extra_args(false)
      ->group("Global options");
  app.add_flag("--json", g.json, "print the result as one JSON document on stdout")
      ->group("Global options");
  app.add_flag("-q,--quiet", g.quiet, "print only errors and warnings")->group("Global options");
  app.add_flag("-v,--verbose", g.verbose, "print more detail")->group("Global options");
}

int run(int argc, char** argv) {
  GlobalOptions global;
  CLI::App app("lifeboat: encrypted, deduplicated backups of web hosting nodes", "lifeboat");
  app.fallthrough();  // global options may follow the command: `lifeboat ls --repo R latest`
  app.require_subcommand(1);
  app.footer(exit_code_help());
  app.set_version_flag("--version", std::string("lifeboat ") + kVersion);
  add_global_options(app, global);

  std::vector<std::pair<CLI::App*, CommandRun>> commands;
  for (CommandSetup setup : kCommands) {
    auto all = [](CLI::App*) { return true; };
    size_t before = app.get_subcommands(all).size();
    CommandRun run = setup(app, global);
    auto subs = app.get_subcommands(all);
    for (size_t i = before; i < subs.size(); ++i) commands.emplace_back(subs[i], run);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string message = e.what();
    std::string help = "lifeboat --help";
    if (auto parsed = app.get_subcommands(); !parsed.empty()) {
      help = "lifeboat " + parsed[0]->get_name() + " --help";
    } else {
      auto rest = app.remaining();
      if (!rest.empty() && !rest[0].empty() && rest[0][0] != '-')
        message = "unknown command '" + rest[0] + "'";
      else if (message == "A subcommand is required")
        message = "no command given";
    }
    print_error(message + "; see '" + help + "'");
    return kExitUsage;
  }
  if (global.quiet && global.verbose) {
    print_error("--quiet and --verbose exclude each other");
    return kExitUsage;
  }
  for (auto& [sub, run] : commands)
    if (sub->parsed()) return run();
  print_error("no command given; see 'lifeboat --help'");
  return kExitUsage;
}

}  // namespace
}  // namespace lifeboat::cli

int main(int argc, char** argv) {
  using namespace lifeboat::cli;
  // glibc gives every thread its own malloc arena, each keeping freed
  // buffers; with a dozen pipeline threads that doubles peak memory. A few
  // arenas are plenty: the hot paths reuse their buffers.
  mallopt(M_ARENA_MAX, 4);
  install_signal_handling();
  // A signal's own line may be on its way (common.h claim_last_word): then
  // that thread ends the process and this one stays silent.
  auto last_error = [](const std::string& message) {
    if (!claim_last_word())
      for (;;) pause();
    print_error(message);
  };
  int code;
  try {
    code = run(argc, argv);
  } catch (const lifeboat::Error& e) {
    last_error(e.message());
    code = exit_code_for(e.code());
  } catch (const CLI::Error& e) {
    last_error(std::string(e.what()) + "; see 'lifeboat --help'");
    code = kExitUsage;
  } catch (const std::bad_alloc&) {
    last_error("out of memory");
    code = kExitFatal;
  } catch (const std::exception& e) {
    last_error(std::string("internal error: ") + e.what() + "; please report this");
    code = kExitFatal;
  }
  if (std::fflush(stdout) != 0 && code == kExitOk) {
    print_error("writing the output failed");
    code = kExitFatal;
  }
  return code;
}
