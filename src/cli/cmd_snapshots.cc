// lifeboat snapshots: list the snapshots of a repository.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

namespace {

Json summary_object(const repo::SnapshotSummary& m) { return repo::summary_to_json(m); }

Json snapshot_object(const Id& id, const repo::Snapshot& s) {
  Json paths = Json::array();
  for (const auto& p : s.paths) paths.push_back(json_bytes(p));
  Json tags = Json::array();
  for (const auto& t : s.tags) tags.push_back(json_bytes(t));
  Json errors = Json::array();
  for (const auto& p : s.error_paths) errors.push_back(json_bytes(p));
  return Json{{"id", id.hex()},
              {"short_id", id.short_hex()},
              {"time", format_rfc3339(s.time)},
              {"node", json_bytes(s.node)},
              {"account", json_bytes(s.account)},
              {"hostname", json_bytes(s.hostname)},
              {"paths", paths},
              {"tags", tags},
              {"tree", s.tree.hex()},
              {"parent", s.parent ? Json(s.parent->hex()) : Json(nullptr)},
              {"partial", s.partial},
              {"error_paths", errors},
              {"summary", summary_object(s.summary)}};
}

uint64_t file_count(const repo::SnapshotSummary& m) {
  return m.files_new + m.files_changed + m.files_unmodified;
}

void print_table(const std::vector<std::pair<Id, repo::Snapshot>>& snaps) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "Time", "Node", "Account", "Paths", "Size", "Files"});
  for (const auto& [id, s] : snaps) {
    std::string paths;
    for (const auto& p : s.paths) paths += (paths.empty() ? "" : ",") + printable(p);
    rows.push_back({id.short_hex() + (s.partial ? "!" : ""), format_local_time(s.time),
                    printable(s.node), printable(s.account), paths,
                    format_bytes(s.summary.bytes_total), std::to_string(file_count(s.summary))});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string text;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string line;
    for (size_t c = 0; c < rows[i].size(); ++c) {
      bool right = c >= 5;  // numbers
      line += right ? fmt::format("{:>{}}", rows[i][c], width[c])
                    : fmt::format("{:<{}}", rows[i][c], width[c]);
      if (c + 1 < rows[i].size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
    if (i == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      text += std::string(total - 2, '-') + "\n";
    }
  }
  size_t partial = std::count_if(snaps.begin(), snaps.end(),
                                 [](const auto& p) { return p.second.partial; });
  text += fmt::format("{} snapshots", snaps.size());
  if (partial > 0) text += fmt::format(" ({} partial, marked !)", partial);
  text += "\n";
  print_out(text);
}

}  // namespace

CommandRun setup_snapshots(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    std::string account;
    std::string node;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("snapshots", "list snapshots (oldest first)");
  cmd->add_option("--account", f->account, "only snapshots of this account");
  cmd->add_option("--node", f->node, "only snapshots of this node");

  return [f, &g]() -> int {
    auto repo = open_repository(g, false);
    std::vector<std::pair<Id, repo::Snapshot>> snaps;
    for (auto& entry : repo->list_snapshots()) {
      if (!f->account.empty() && entry.second.account != f->account) continue;
      if (!f->node.empty() && entry.second.node != f->node) continue;
      snaps.push_back(std::move(entry));
    }
    if (g.json) {
      Json out = Json::array();
      for (const auto& [id, s] : snaps) out.push_back(snapshot_object(id, s));
      print_json(out);
    } else if (!g.quiet || !snaps.empty()) {
      print_table(snaps);
    }
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
