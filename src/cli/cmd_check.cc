// lifeboat check: verify a repository and say what any damage affects.
#include <atomic>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "check/checker.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"

namespace lifeboat::cli {

namespace {

// "n/m" with 1 <= n <= m.
std::pair<uint32_t, uint32_t> parse_subset(const std::string& text) {
  unsigned n = 0, m = 0;
  char rest = 0;
  if (std::sscanf(text.c_str(), "%u/%u%c", &n, &m, &rest) != 2 || n < 1 || m < 1 || n > m ||
      m > 256)
    throw Error(ErrorCode::kInvalidArgument,
                "--read-data-subset '" + text + "' is not n/m with 1 <= n <= m <= 256");
  return {n, m};
}

Json json_accounts(const std::vector<std::string>& accounts) {
  Json out = Json::array();
  for (const auto& a : accounts) out.push_back(json_bytes(a));
  return out;
}

Json report_json(const check::CheckReport& r) {
  Json problems = Json::array();
  for (const auto& p : r.problems) {
    Json files = Json::array();
    for (const auto& f : p.files) files.push_back(json_bytes(f));
    problems.push_back(Json{{"kind", p.kind},
                            {"object", p.object},
                            {"message", p.message},
                            {"snapshots", p.snapshots},
                            {"accounts", json_accounts(p.accounts)},
                            {"files", files},
                            {"blobs", p.blobs},
                            {"restorable", p.restorable}});
  }
  Json damage = Json::array();
  for (const auto& d : r.affected_snapshots)
    damage.push_back(Json{{"snapshot", d.snapshot},
                          {"account", json_bytes(d.account)},
                          {"files", d.files},
                          {"damaged_files", d.damaged_files},
                          {"damaged_dirs", d.damaged_dirs}});
  return Json{{"ok", r.ok()},
              {"snapshots", r.snapshots},
              {"trees", r.trees},
              {"blobs", r.blobs},
              {"packs", r.packs},
              {"packs_read", r.packs_read},
              {"bytes_read", r.bytes_read},
              {"unreferenced_packs", r.unreferenced_packs},
              {"problems", problems},
              {"affected_accounts", json_accounts(r.affected_accounts)},
              {"unaffected_accounts", json_accounts(r.unaffected_accounts)},
              {"unaffected_snapshots", r.unaffected_snapshots},
              {"affected_snapshots", damage},
              {"warnings", r.warnings}};
}

std::string join(const std::vector<std::string>& items, size_t limit) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i)
    out += (i ? ", " : "") + printable(items[i]);
  if (items.size() > limit) out += fmt::format(", ... ({} in all)", items.size());
  return out;
}

void print_report(const check::CheckReport& r, bool verbose) {
  std::string text = fmt::format("checked {} snapshots, {} trees, {} blobs, {} packs", r.snapshots,
                                 r.trees, r.blobs, r.packs);
  if (r.packs_read > 0)
    text += fmt::format(" ({} packs, {} read and verified)", r.packs_read,
                        format_bytes(r.bytes_read));
  text += "\n";
  if (r.unreferenced_packs > 0)
    text += fmt::format("{} packs are in no index (left by an interrupted backup; harmless, "
                        "prune removes them)\n",
                        r.unreferenced_packs);
  size_t limit = verbose ? SIZE_MAX : 10;
  for (const auto& p : r.problems) {
    text += fmt::format("problem: {} {}: {}\n", p.kind, printable(p.object), one_line(p.message));
    std::vector<std::string> short_ids;
    for (const auto& s : p.snapshots) short_ids.push_back(s.substr(0, 8));
    // A restorable problem loses nothing: those snapshots only rely on the
    // fallback to pack trailers.
    const char* verb = p.restorable ? "  restorable, relies on trailers: " : "  affects ";
    if (!p.snapshots.empty()) text += verb + std::string("snapshots: ") + join(short_ids, limit) + "\n";
    if (!p.accounts.empty()) text += verb + std::string("accounts: ") + join(p.accounts, limit) + "\n";
    if (!p.files.empty()) text += "  affects files: " + join(p.files, limit) + "\n";
    if (!p.blobs.empty()) text += "  blobs: " + join(p.blobs, limit) + "\n";
  }
  for (size_t i = 0; i < r.affected_snapshots.size() && i < limit; ++i) {
    const auto& d = r.affected_snapshots[i];
    text += fmt::format("snapshot {} ({}): {} of {} files damaged{}; every other file is intact\n",
                        d.snapshot.substr(0, 8), printable(d.account), d.damaged_files, d.files,
                        d.damaged_dirs ? fmt::format(", and {} whole directories", d.damaged_dirs)
                                       : std::string());
  }
  if (!r.problems.empty())
    text += fmt::format("{} accounts affected ({}); {} accounts and {} snapshots not affected\n",
                        r.affected_accounts.size(), join(r.affected_accounts, limit),
                        r.unaffected_accounts.size(), r.unaffected_snapshots.size());
  if (r.ok()) text += "no problems found\n";
  print_out(text);
}

}  // namespace

CommandRun setup_check(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    bool read_data = false;
    std::string subset;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("check", "verify the repository's structure (and data)");
  auto* rd = cmd->add_flag("--read-data", f->read_data, "read and verify every pack");
  cmd->add_option("--read-data-subset", f->subset,
                  "read and verify the packs of share n of m (1 <= n <= m)")
      ->excludes(rd);

  return [f, &g]() -> int {
    check::CheckOptions options;
    options.read_data = f->read_data;
    if (!f->subset.empty()) {
      auto [n, m] = parse_subset(f->subset);
      options.read_data = true;
      options.subset_n = n;
      options.subset_m = m;
    }
    auto repo = open_repository(g, true);

    std::atomic<uint64_t> done{0}, total{0};
    options.on_progress = [&](uint64_t d, uint64_t t) {
      done = d;
      total = t;
    };
    StatusLine status(progress_wanted(g), [&] {
      return total.load() > 0 ? fmt::format("packs {}/{}", done.load(), total.load())
                              : std::string("checking structure");
    });
    check::CheckReport report = check::run_check(*repo, options);
    status.stop();

    for (const auto& w : report.warnings) print_warning(w);
    if (g.json)
      print_json(report_json(report));
    else if (!g.quiet || !report.ok())
      print_report(report, g.verbose);
    if (!report.ok()) {
      print_error(fmt::format("repository {} is damaged: {}{}, each naming the "
                              "object and the snapshots it affects",
                              repo->location(),
                              count_of(report.problems.size(), "problem", "problems"),
                              g.json ? " (in the JSON report)" : " (listed above)"));
      return kExitDamaged;
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
