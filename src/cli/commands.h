// The command table: each command group (one cmd_<name>.cc) adds its
// subcommand to the CLI11 app, keeps its flags in storage it owns, and
// returns the function that runs it once the command line is parsed. The
// function returns the exit code (exit_codes.h) or throws lifeboat::Error,
// which main() turns into one stderr line and the code for its kind.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "cli/common.h"

namespace lifeboat::cli {

using CommandRun = std::function<int()>;
using CommandSetup = CommandRun (*)(CLI::App& app, const GlobalOptions& global);

CommandRun setup_init(CLI::App& app, const GlobalOptions& global);
CommandRun setup_backup(CLI::App& app, const GlobalOptions& global);
CommandRun setup_node(CLI::App& app, const GlobalOptions& global);
// `node restore`, a subcommand of `node` (cmd_node_restore.cc).
struct NodeSubcommand {
  CLI::App* app;
  CommandRun run;
};
NodeSubcommand setup_node_restore(CLI::App& node_cmd, const GlobalOptions& global);
CommandRun setup_plan(CLI::App& app, const GlobalOptions& global);
CommandRun setup_snapshots(CLI::App& app, const GlobalOptions& global);
CommandRun setup_ls(CLI::App& app, const GlobalOptions& global);
CommandRun setup_diff(CLI::App& app, const GlobalOptions& global);
CommandRun setup_restore(CLI::App& app, const GlobalOptions& global);
CommandRun setup_check(CLI::App& app, const GlobalOptions& global);
CommandRun setup_prune(CLI::App& app, const GlobalOptions& global);
CommandRun setup_copy(CLI::App& app, const GlobalOptions& global);
CommandRun setup_repair(CLI::App& app, const GlobalOptions& global);
CommandRun setup_forget(CLI::App& app, const GlobalOptions& global);
CommandRun setup_drill(CLI::App& app, const GlobalOptions& global);
CommandRun setup_stats(CLI::App& app, const GlobalOptions& global);
CommandRun setup_cat(CLI::App& app, const GlobalOptions& global);
CommandRun setup_key(CLI::App& app, const GlobalOptions& global);
CommandRun setup_version(CLI::App& app, const GlobalOptions& global);
CommandRun setup_serve(CLI::App& app, const GlobalOptions& global);

}  // namespace lifeboat::cli
