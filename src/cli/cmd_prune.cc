// lifeboat prune: delete what no snapshot needs, while other nodes keep
// backing up. The work is in src/prune/pruner.h; this file parses flags,
// shows progress and prints the report.
#include <chrono>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "prune/pruner.h"

namespace lifeboat::cli {
namespace {

struct PruneFlags {
  double repack_unused = 50;
  double repack_small = 25;
  double max_unused = 5;
  bool dry_run = false;
};

Json report_json(const prune::PruneReport& r, bool dry_run) {
  Json waiting = Json::array();
  for (const auto& w : r.waiting_for) waiting.push_back(w);
  Json unreadable = Json::array();
  for (const auto& u : r.unreadable) unreadable.push_back(u);
  return Json{{"dry_run", dry_run},
              {"snapshots", r.snapshots},
              {"packs", r.packs},
              {"bytes", r.bytes},
              {"blobs_used", r.blobs_used},
              {"bytes_unused", r.bytes_unused},
              {"bytes_unused_after", r.bytes_unused_after},
              {"deleted", Json{{"plans", r.plans_done},
                               {"packs", r.packs_deleted},
                               {"bytes", r.bytes_deleted},
                               {"packs_kept_back", r.packs_kept_back},
                               {"index_segments_written", r.segments_written},
                               {"index_segments_removed", r.segments_removed}}},
              {"planned", Json{{"packs_unused", r.packs_unused},
                               {"packs_repacked", r.packs_repacked},
                               {"blobs_repacked", r.blobs_repacked},
                               {"bytes_repacked", r.bytes_repacked},
                               {"packs", r.packs_planned},
                               {"bytes", r.bytes_planned}}},
              {"waiting", Json{{"plans", r.plans_waiting},
                               {"packs", r.packs_waiting},
                               {"bytes", r.bytes_waiting},
                               {"for", waiting}}},
              {"lock_records_removed", r.records_removed},
              {"uploads_abandoned", r.uploads_abandoned},
              {"object_lock", Json{{"checked", r.locks_checked}, {"renewed", r.locks_renewed}}},
              {"unreadable", unreadable}};
}

std::string report_text(const prune::PruneReport& r, bool dry_run) {
  const char* would = dry_run ? "would " : "";
  std::string t = fmt::format("{} snapshots need {} blobs; the repository holds {} packs, {}, of which {} unused\n",
                              r.snapshots, r.blobs_used, r.packs, format_bytes(r.bytes),
                              format_bytes(r.bytes_unused));
  if (r.packs_repacked)
    t += fmt::format("{}repacked {} blobs ({}) out of {} partly unused or small packs\n", dry_run ? "would have " : "",
                     r.blobs_repacked, format_bytes(r.bytes_repacked), r.packs_repacked);
  if (r.bytes_unused)
    t += fmt::format("{}{} stays unused in packs that stay (--max-unused)\n", dry_run ? "would leave: " : "",
                     format_bytes(r.bytes_unused_after));
  if (r.plans_done || r.packs_deleted)
    t += fmt::format("{}deleted {} packs ({}){}\n", dry_run ? "would have " : "", r.packs_deleted,
                     format_bytes(r.bytes_deleted),
                     r.packs_kept_back ? fmt::format(", kept {} that new snapshots need", r.packs_kept_back) : "");
  if (r.plans_waiting) {
    t += fmt::format("{}{} packs ({}) wait for the deletion: {} that started before they were planned{}\n",
                     would, r.packs_waiting, format_bytes(r.bytes_waiting),
                     r.waiting_for.size() == 1 ? "a writer" : fmt::format("{} writers", r.waiting_for.size()),
                     r.waiting_for.empty() ? "" : ": " + r.waiting_for.front() + (r.waiting_for.size() > 1 ? ", ..." : ""));
    t += "the next prune after they end deletes them\n";
  }
  if (!r.plans_done && !r.packs_planned && !r.plans_waiting) t += "nothing to delete\n";
  if (r.uploads_abandoned)
    t += fmt::format("abandoned {} multipart uploads older than a day (a killed writer's parts)\n", r.uploads_abandoned);
  if (r.locks_checked)
    t += fmt::format("Object Lock: {} of {} objects that stay had less than half their retention left; renewed\n",
                     r.locks_renewed, r.locks_checked);
  for (const auto& u : r.unreadable) t += "left alone, unreadable: " + u + "\n";
  return t;
}

int run_prune(const PruneFlags& f, const GlobalOptions& g) {
  if (f.repack_unused < 0 || f.repack_unused > 100 || f.repack_small < 0 || f.repack_small > 100 ||
      f.max_unused < 0 || f.max_unused > 100)
    throw Error(ErrorCode::kInvalidArgument,
                "--repack-unused, --repack-small and --max-unused take a percentage from 0 to 100");
  auto repo = open_repository(g, false);
  prune::PruneOptions o;
  o.repack_unused = f.repack_unused / 100.0;
  o.repack_small = f.repack_small / 100.0;
  o.max_unused = f.max_unused / 100.0;
  o.dry_run = f.dry_run;
  o.warn = [](const std::string& m) { print_warning(m); };
  prune::PruneProgress progress;
  const auto started = std::chrono::steady_clock::now();
  StatusLine status(progress_wanted(g), [&progress, started] {
    const int phase = progress.phase.load();
    const uint64_t done = progress.done.load(), total = progress.total.load();
    std::string line = prune::kPrunePhases[phase];
    if (phase == prune::kPhaseWalk) return line + fmt::format("  trees {}", done);
    if (phase == prune::kPhaseRepack && total) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return line + fmt::format("  {}/{}  {:.1f} MiB/s", format_bytes(done), format_bytes(total),
                                done / 1048576.0 / std::max(secs, 0.001));
    }
    if (total) return line + fmt::format("  {}/{}", done, total);
    return line;
  });
  prune::PruneReport r = prune::prune(*repo, o, &progress);
  status.stop();
  if (g.json)
    print_json(report_json(r, f.dry_run));
  else if (!g.quiet)
    print_out(report_text(r, f.dry_run));
  return kExitOk;
}

}  // namespace

CommandRun setup_prune(CLI::App& app, const GlobalOptions& g) {
  auto flags = std::make_shared<PruneFlags>();
  auto* cmd = app.add_subcommand(
      "prune",
      "delete data no snapshot needs and repack mostly unused packs, while other nodes keep backing "
      "up (packs a running backup may rely on are deleted by a later prune)");
  cmd->add_option("--repack-unused", flags->repack_unused,
                  "repack a pack when at least this percentage of its bytes is unused (default 50)");
  cmd->add_option("--repack-small", flags->repack_small,
                  "also repack packs smaller than this percentage of the pack size together "
                  "(default 25; 0 turns it off)");
  cmd->add_option("--max-unused", flags->max_unused,
                  "then repack more packs, the most unused first, until at most this percentage of "
                  "what stays is unused (default 5; 100 turns it off)");
  cmd->add_flag("-n,--dry-run", flags->dry_run, "say what would be repacked and deleted; change nothing");
  return [flags, &g] { return run_prune(*flags, g); };
}

}  // namespace lifeboat::cli
