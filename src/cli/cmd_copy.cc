// lifeboat copy: snapshots from --repo into --to (tiers: snapshot host →
// nightly offsite → weekly offsite), sending only what --to lacks. The work
// is copy/copier.h; this file opens the two repositories, picks the
// snapshots and reports.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "copy/copier.h"
#include "copy/shared_params.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  std::vector<std::string> snapshots;
  std::string to;
  std::string to_password_file;
  copy::SnapshotFilter filter;
};

const char* kind_name(copy::SnapshotOutcome::Kind k) {
  switch (k) {
    case copy::SnapshotOutcome::Kind::kCopied: return "copied";
    case copy::SnapshotOutcome::Kind::kSkipped: return "skipped";
    case copy::SnapshotOutcome::Kind::kFailed: return "failed";
  }
  return "?";
}

std::string describe(const repo::Snapshot& s) {
  std::string who = s.node.empty() ? printable(s.account)
                                   : printable(s.node) + "/" + printable(s.account);
  return fmt::format("{} of {}", format_local_time(s.time), who.empty() ? "-" : who);
}

copy::SnapshotList chosen_snapshots(const repo::Repository& src, const Flags& f) {
  copy::SnapshotList all;
  if (f.snapshots.empty()) {
    all = src.list_snapshots();
  } else {
    for (const auto& ref : f.snapshots) all.push_back(src.find_snapshot(ref));
  }
  copy::SnapshotList picked = copy::select_snapshots(all, f.filter);
  // The same snapshot named twice is copied once.
  std::sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) {
    return a.second.time != b.second.time ? a.second.time < b.second.time : a.first < b.first;
  });
  picked.erase(std::unique(picked.begin(), picked.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               picked.end());
  return picked;
}

Json report_json(const repo::Repository& src, const repo::Repository& dst,
                 const copy::CopyReport& r, double seconds) {
  Json snaps = Json::array();
  for (const auto& o : r.snapshots) {
    Json j{{"source_id", o.source_id.hex()},
           {"destination_id", o.destination_id ? Json(o.destination_id->hex()) : Json(nullptr)},
           {"status", kind_name(o.kind)},
           {"time", format_rfc3339(o.snapshot.time)},
           {"node", json_bytes(o.snapshot.node)},
           {"account", json_bytes(o.snapshot.account)},
           {"blobs_sent", o.blobs_sent},
           {"bytes_sent", o.bytes_sent}};
    if (!o.error.empty()) j["error"] = o.error;
    snaps.push_back(j);
  }
  return Json{{"source", src.location()},
              {"destination", dst.location()},
              {"snapshots_copied", r.copied},
              {"snapshots_skipped", r.skipped},
              {"snapshots_failed", r.failed},
              {"trees_walked", r.trees_walked},
              {"blobs_sent", r.blobs_sent},
              {"bytes_sent", r.bytes_sent},
              {"bytes_stored", r.bytes_stored},
              {"interrupted", r.interrupted},
              {"duration_seconds", seconds},
              {"snapshots", snaps}};
}

}  // namespace

CommandRun setup_copy(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "copy", "copy snapshots from --repo to --to, sending only the data --to lacks");
  cmd->add_option("snapshot", f->snapshots, "snapshot ids (or 'latest'); default: all");
  cmd->add_option("--to", f->to, "the destination repository (made with `lifeboat init "
                                 "--copy-params-from` the source)")
      ->required();
  cmd->add_option("--to-password-file", f->to_password_file,
                  "password of --to (else LIFEBOAT_TO_PASSWORD_FILE, "
                  "LIFEBOAT_TO_PASSWORD_COMMAND, LIFEBOAT_TO_PASSWORD, or a prompt)");
  cmd->add_option("--node", f->filter.nodes, "only snapshots of this node (repeatable)");
  cmd->add_option("--account", f->filter.accounts, "only snapshots of this account (repeatable)");
  cmd->add_option("--tag", f->filter.tags, "only snapshots with this tag (repeatable: any)");
  cmd->add_option("--latest", f->filter.latest,
                  "only the newest N snapshots of each node and account")
      ->check(CLI::PositiveNumber);

  return [f, &g]() -> int {
    auto src = open_repository(g, true);
    auto dst = open_repository_at(
        g, f->to, false,
        [&] {
          return get_password_from(PasswordSource{f->to_password_file, "--to-password-file",
                                                  "LIFEBOAT_TO", "the --to repository"},
                                   false);
        },
        nullptr, false, /*for_backup=*/true);
    copy::require_shared_ids(*src, *dst);
    if (!copy::same_chunking(*src, *dst))
      print_warning("the chunking of " + dst->location() + " differs from " + src->location() +
                    ": copies are exact, but new backups into it will not deduplicate against them");
    copy::SnapshotList snapshots = chosen_snapshots(*src, *f);
    copy::Destination dest = copy::prepare_destination(*dst);

    std::atomic<bool> stop{false};
    set_stop_hook([&stop] { stop = true; });
    copy::CopyProgress progress;
    copy::CopyOptions options;
    options.stop = &stop;
    options.progress = &progress;
    options.on_snapshot = [&](const copy::SnapshotOutcome& o) {
      if (o.kind == copy::SnapshotOutcome::Kind::kFailed) {
        print_warning(fmt::format("snapshot {} ({}) not copied: {}", o.source_id.short_hex(),
                                  describe(o.snapshot), o.error));
      } else if (!g.json && g.verbose) {
        print_verbose(g, fmt::format("{} {} -> {} ({}, {} blobs, {})", kind_name(o.kind),
                                     o.source_id.short_hex(), o.destination_id->short_hex(),
                                     describe(o.snapshot), o.blobs_sent,
                                     format_bytes(o.bytes_sent)));
      }
    };
    auto started = std::chrono::steady_clock::now();
    StatusLine status(progress_wanted(g),
                      [&progress, started] { return render_copy_status(progress, started); });
    copy::CopyReport r = copy::copy_snapshots(*src, dest, snapshots, options);
    status.stop();
    set_stop_hook({});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (g.json) {
      print_json(report_json(*src, *dst, r, seconds));
    } else if (!g.quiet) {
      print_out(fmt::format(
          "copied {} to {}, skipped {} already there{}\n"
          "sent {} ({} plaintext, {} stored) in {}\n",
          count_of(r.copied, "snapshot", "snapshots"), dst->location(), r.skipped,
          r.failed > 0 ? fmt::format(", {} failed", r.failed) : "",
          count_of(r.blobs_sent, "blob", "blobs"), format_bytes(r.bytes_sent),
          format_bytes(r.bytes_stored), format_seconds(seconds)));
    }
    if (r.interrupted)
      throw Error(ErrorCode::kInterrupted,
                  "copy interrupted; what was sent is kept: run the same copy again to finish");
    if (r.failed > 0) {
      print_error(fmt::format("{} could not be copied: {} lacks data they need (see the warnings "
                              "above); run 'lifeboat check --read-data' there",
                              count_of(r.failed, "snapshot", "snapshots"), src->location()));
      return kExitDamaged;
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
