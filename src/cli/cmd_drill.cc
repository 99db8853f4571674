// lifeboat drill: the daily restore test (src/node/drill.h does the work).
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "node/drill.h"

namespace lifeboat::cli {
namespace {

struct DrillFlags {
  node::DrillOptions options;
};

Json account_json(const node::DrillAccount& a) {
  Json problems = Json::array();
  for (const auto& p : a.problems) problems.push_back(json_bytes(p));
  return Json{{"node", json_bytes(a.node)},
              {"account", json_bytes(a.account)},
              {"snapshot_id", a.snapshot_id.hex()},
              {"snapshot_time", format_rfc3339(a.snapshot_time)},
              {"ok", a.ok},
              {"files", a.files},
              {"bytes", a.bytes},
              {"errors", a.errors},
              {"mismatches", a.mismatches},
              {"seconds", a.seconds},
              {"problems", problems}};
}

int run(const DrillFlags& f, const GlobalOptions& g) {
  auto repo = open_repository(g, true);
  node::DrillResult r = node::run_drill(*repo, f.options);
  if (g.json) {
    Json accounts = Json::array();
    for (const auto& a : r.accounts) accounts.push_back(account_json(a));
    print_json(Json{{"ok", r.failed == 0},
                    {"accounts", accounts},
                    {"summary",
                     {{"accounts", r.accounts.size()},
                      {"ok", r.ok},
                      {"failed", r.failed},
                      {"seconds", r.seconds}}},
                    {"scratch", f.options.keep ? Json(r.scratch) : Json(nullptr)}});
  } else if (!g.quiet) {
    std::string text;
    for (const auto& a : r.accounts) {
      text += fmt::format("{:<6} {:<12} {:<20} {} {:>8} files {:>11}  {}\n",
                          a.ok ? "ok" : "FAILED", printable(a.node), printable(a.account),
                          a.snapshot_id.short_hex(), a.files, format_bytes(a.bytes),
                          format_seconds(a.seconds));
      for (const auto& p : a.problems) text += "       " + one_line(p) + "\n";
    }
    text += fmt::format("drill: {} of {} accounts restored and verified against their snapshots "
                        "in {}{}\n",
                        r.ok, r.accounts.size(), format_seconds(r.seconds),
                        f.options.keep ? "; restored files kept in " + r.scratch : "");
    print_out(text);
  }
  if (r.failed > 0) {
    print_error(fmt::format("drill: {} of {} accounts did not restore exactly; run 'lifeboat "
                            "check --read-data' to see what is damaged",
                            r.failed, r.accounts.size()));
    return kExitDamaged;
  }
  return kExitOk;
}

}  // namespace

CommandRun setup_drill(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<DrillFlags>();
  auto* c = app.add_subcommand(
      "drill", "restore a sample of accounts into scratch space and verify them (for cron)");
  c->add_option("--node", f->options.node, "only accounts of this node");
  c->add_option("--accounts", f->options.accounts, "these accounts (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  c->add_flag("--all", f->options.all, "every account");
  c->add_option("--sample", f->options.sample,
                "accounts drawn at random when neither --accounts nor --all is given (default 5)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--seed", f->options.seed, "seed for the sample (default: random)");
  c->add_option("--scratch", f->options.scratch,
                "directory to restore into (created, then removed; default under $TMPDIR)");
  c->add_flag("--keep", f->options.keep, "keep the restored files for inspection");
  return [f, &g] { return run(*f, g); };
}

}  // namespace lifeboat::cli
