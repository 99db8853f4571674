// lifeboat repair: put a damaged repository's derived data back together.
//   repair index [--full]   rebuild index segments from the packs' trailers
//   repair snapshots        salvage snapshots that name data that is gone
//   repair config           write a new config when the old one is damaged
//   repair orphans          a snapshot of the trees no snapshot reaches
// The work is done in src/repo/index_repair.h and snapshot_repair.h; this
// file parses flags,
// shows progress and prints the result.
#include <atomic>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "prune/prune_lock.h"
#include "repo/index_repair.h"
#include "repo/snapshot_repair.h"
#include "repo/writer_registration.h"

namespace lifeboat::cli {
namespace {

struct IndexFlags {
  bool full = false;
};

struct ConfigFlags {
  bool force = false;
  uint32_t chunk_min = 0, chunk_avg = 0, chunk_max = 0;  // 0: the default
  uint32_t pack_size_mib = 0;
  int compression = -1;
};

int run_repair_config(const ConfigFlags& f, const GlobalOptions& g) {
  auto repo = open_repository_at(g, repository_location(g), false,
                                 [&g] { return get_password(g, false); }, nullptr,
                                 /*allow_missing_config=*/true);
  if (!repo->config_damaged() && !f.force) {
    if (!g.quiet) print_out("repair config: the config of " + repo->location() + " is intact; nothing to do\n");
    return kExitOk;
  }
  repo::Config c = repo::Config::make_new();
  if (f.chunk_min) c.chunker.min_size = f.chunk_min;
  if (f.chunk_avg) c.chunker.avg_size = f.chunk_avg;
  if (f.chunk_max) c.chunker.max_size = f.chunk_max;
  if (f.pack_size_mib) c.pack_size = f.pack_size_mib << 20;
  if (f.compression >= 0) c.compression_level = f.compression;
  if (f.force && !repo->config_damaged()) c.id = repo->config().id;
  repo->replace_config(c);
  if (g.json) {
    print_json(Json{{"config", "written"},
                    {"chunk_min", c.chunker.min_size},
                    {"chunk_avg", c.chunker.avg_size},
                    {"chunk_max", c.chunker.max_size},
                    {"pack_size", c.pack_size},
                    {"compression", c.compression_level}});
  } else if (!g.quiet) {
    print_out(fmt::format(
        "repair config: wrote a new config for {} (chunks {}/{}/{}, packs {}, zstd level {}); "
        "nothing stored depends on it, but if the repository was created with other chunk sizes, "
        "new backups deduplicate less against older data until you give those sizes here\n",
        repo->location(), format_bytes(c.chunker.min_size), format_bytes(c.chunker.avg_size),
        format_bytes(c.chunker.max_size), format_bytes(c.pack_size), c.compression_level));
  }
  return kExitOk;
}

int run_repair_orphans(const GlobalOptions& g) {
  auto repo = open_repository(g, false);
  repo::WriterRegistration writer(*repo, "repair orphans");
  repo->load_index();
  repo::OrphanRecovery r = repo::recover_orphans(*repo);
  if (g.json) {
    Json roots = Json::array();
    for (const Id& id : r.roots) roots.push_back(id.hex());
    print_json(Json{{"roots", roots},
                    {"snapshot", r.snapshot ? Json(r.snapshot->hex()) : Json(nullptr)}});
  } else if (!g.quiet) {
    if (!r.snapshot)
      print_out("repair orphans: every directory tree is reached by a snapshot; nothing to recover\n");
    else
      print_out(fmt::format(
          "repair orphans: {} directory trees no snapshot reaches are now in snapshot {} (account "
          "'recovered'), one directory each, named by tree id: 'lifeboat ls {}' to see them, "
          "'lifeboat restore {} --target DIR' to bring them back\n",
          r.roots.size(), r.snapshot->short_hex(), r.snapshot->short_hex(),
          r.snapshot->short_hex()));
  }
  return kExitOk;
}

struct SnapshotFlags {
  bool forget = false;
  bool read_data = false;
};

int run_repair_snapshots(const SnapshotFlags& f, const GlobalOptions& g) {
  auto repo = open_repository(g, false);
  repo::WriterRegistration writer(*repo, "repair snapshots");
  repo->load_index();
  std::atomic<uint64_t> done{0}, total{0};
  repo::SnapshotRepairOptions o;
  o.forget = f.forget;
  o.read_data = f.read_data;
  o.on_progress = [&](size_t d, size_t t) {
    done = d;
    total = t;
  };
  StatusLine status(progress_wanted(g), [&] {
    return fmt::format("snapshots {}/{}", done.load(), total.load());
  });
  repo::SnapshotRepairResult r = repo::repair_snapshots(*repo, o);
  status.stop();
  if (g.json) {
    Json list = Json::array();
    for (const auto& s : r.snapshots) {
      if (!s.repaired) continue;
      Json damaged = Json::array();
      for (const auto& p : s.damaged) damaged.push_back(json_bytes(p));
      list.push_back(Json{{"original", s.original.hex()},
                          {"repaired", s.repaired->hex()},
                          {"node", json_bytes(s.node)},
                          {"account", json_bytes(s.account)},
                          {"damaged", damaged},
                          {"forgotten", s.forgotten}});
    }
    print_json(Json{{"snapshots", r.snapshots.size()},
                    {"intact", r.intact},
                    {"repaired", r.repaired},
                    {"repairs", list}});
  } else if (!g.quiet) {
    std::string text;
    for (const auto& s : r.snapshots) {
      if (!s.repaired) continue;
      text += fmt::format("snapshot {} ({}/{}) -> {}{}: {} damaged: {}\n", s.original.short_hex(),
                          printable(s.node), printable(s.account), s.repaired->short_hex(),
                          s.forgotten ? " (original forgotten)" : "", s.damaged.size(),
                          one_line(fmt::format("{}", fmt::join(s.damaged, ", "))));
    }
    text += fmt::format("repair snapshots: {} snapshots, {} intact, {} repaired{}\n",
                        r.snapshots.size(), r.intact, r.repaired,
                        r.repaired && !f.forget
                            ? " (originals kept; --forget removes them)"
                            : "");
    print_out(text);
  }
  return kExitOk;
}

int run_repair_index(const IndexFlags& f, const GlobalOptions& g) {
  // The index is loaded by the repair itself, so damaged segments are named.
  auto repo = open_repository(g, false);
  // Not while a prune rewrites segments and deletes packs: each could undo
  // the other's work (a segment listing a pack just deleted).
  prune::PruneLock lock(*repo, "repair index");
  std::atomic<uint64_t> done{0}, total{0};
  repo::IndexRepairOptions o;
  o.full = f.full;
  o.on_progress = [&](uint64_t d, uint64_t t) {
    done = d;
    total = t;
  };
  const auto started = std::chrono::steady_clock::now();
  StatusLine status(progress_wanted(g), [&] {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string line = fmt::format("packs {}/{}", done.load(), total.load());
    if (done > 0 && total > done)
      line += "  ETA " + format_eta(s / static_cast<double>(done) *
                                    static_cast<double>(total - done));
    return line;
  });
  repo::IndexRepairResult r = repo::repair_index(*repo, o);
  status.stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (g.json) {
    print_json(Json{{"packs", r.packs},
                    {"packs_listed", r.packs_listed},
                    {"packs_read", r.packs_read},
                    {"blobs", r.blobs},
                    {"segments_written", r.segments_written},
                    {"segments_skipped", r.segments_skipped},
                    {"segments_replaced", r.segments_replaced},
                    {"segments_left", r.segments_left},
                    {"packs_gone", r.packs_gone},
                    {"packs_mismatched", r.packs_mismatched},
                    {"unreadable_packs", r.unreadable},
                    {"duration_seconds", seconds}});
  } else if (!g.quiet) {
    std::string text = fmt::format(
        "repair index: {} packs, {} listed by the index; read {} trailers ({} blobs) and wrote {} "
        "index segments in {}\n",
        r.packs, r.packs_listed, r.packs_read, r.blobs, r.segments_written,
        format_seconds(seconds));
    if (!r.segments_skipped.empty())
      text += fmt::format("{} unreadable index segments (their packs are indexed again): {}\n",
                          r.segments_skipped.size(), fmt::join(r.segments_skipped, ", "));
    if (!r.packs_gone.empty())
      text += fmt::format("{} packs listed by the index are gone: {}; 'lifeboat check' names "
                          "what they held that no other pack has\n",
                          r.packs_gone.size(), fmt::join(r.packs_gone, ", "));
    if (!r.packs_mismatched.empty())
      text += fmt::format("{} packs were listed differently from their own trailer (the trailer "
                          "wins): {}\n",
                          r.packs_mismatched.size(), fmt::join(r.packs_mismatched, ", "));
    if (!r.segments_replaced.empty())
      text += fmt::format("removed {} stale or unreadable index segments (what was right in them "
                          "is in the new ones)\n",
                          r.segments_replaced.size());
    if (!r.segments_left.empty())
      text += fmt::format("{} stale index segments could not be removed (append-only storage?); "
                          "harmless, readers fall back past them: {}\n",
                          r.segments_left.size(), fmt::join(r.segments_left, ", "));
    print_out(text);
  }
  if (!r.unreadable.empty()) {
    print_error(fmt::format("{} packs have an unreadable trailer and are not indexed ({}); run "
                            "'lifeboat check --read-data' to see what they hold",
                            r.unreadable.size(), fmt::join(r.unreadable, ", ")));
    return kExitPartial;
  }
  return kExitOk;
}

}  // namespace

CommandRun setup_repair(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<IndexFlags>();
  auto* cmd = app.add_subcommand("repair", "rebuild what can be rebuilt in a damaged repository");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  auto* index = cmd->add_subcommand(
      "index", "rebuild the index from the packs' trailers (packs no readable segment lists)");
  index->fallthrough();
  index->add_flag("--full", f->full,
                  "read every pack's trailer, listed or not, and replace segments that "
                  "contradict them");
  auto sf = std::make_shared<SnapshotFlags>();
  auto* snaps = cmd->add_subcommand(
      "snapshots",
      "write new snapshots that keep what is readable and mark what is lost as damaged");
  snaps->fallthrough();
  snaps->add_flag("--forget", sf->forget, "remove the originals of the snapshots repaired");
  snaps->add_flag("--read-data", sf->read_data,
                  "also read and verify every content blob (finds damaged data, not only missing)");
  auto* orphans = cmd->add_subcommand(
      "orphans",
      "write a snapshot holding the directory trees no snapshot reaches (of damaged or deleted "
      "snapshot objects)");
  orphans->fallthrough();
  auto cf = std::make_shared<ConfigFlags>();
  auto* config = cmd->add_subcommand(
      "config", "write a new config when the old one is damaged or missing (restores never need it)");
  config->fallthrough();
  config->add_flag("--force", cf->force, "replace the config even if it is intact");
  config->add_option("--chunk-min", cf->chunk_min, "smallest chunk in bytes (default 512 KiB)");
  config->add_option("--chunk-avg", cf->chunk_avg, "average chunk in bytes, a power of two (default 1 MiB)");
  config->add_option("--chunk-max", cf->chunk_max, "largest chunk in bytes (default 8 MiB)");
  config->add_option("--pack-size", cf->pack_size_mib, "target pack size in MiB (default 16)");
  config->add_option("--compression", cf->compression, "zstd level for data, 0 = off (default 3)");
  return [f, sf, cf, index, snaps, config, orphans, &g]() -> int {
    if (config->parsed()) return run_repair_config(*cf, g);
    if (orphans->parsed()) return run_repair_orphans(g);
    if (index->parsed()) return run_repair_index(*f, g);
    if (snaps->parsed()) return run_repair_snapshots(*sf, g);
    throw Error(ErrorCode::kInvalidArgument,
                "repair: no subcommand given; see 'lifeboat repair --help'");
  };
}

}  // namespace lifeboat::cli
