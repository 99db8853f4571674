// lifeboat ls: list what a snapshot holds.
#include <sys/stat.h>

#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  std::string snapshot;
  std::string path;
  std::string account;
  bool long_format = false;
  bool recursive = false;
};

char type_char(repo::NodeType t) {
  switch (t) {
    case repo::NodeType::kFile: return '-';
    case repo::NodeType::kDir: return 'd';
    case repo::NodeType::kSymlink: return 'l';
    case repo::NodeType::kBlockDevice: return 'b';
    case repo::NodeType::kCharDevice: return 'c';
    case repo::NodeType::kFifo: return 'p';
    case repo::NodeType::kSocket: return 's';
  }
  return '?';
}

// "drwxr-sr-t" as ls(1) writes it.
std::string mode_string(const repo::Node& n) {
  std::string s(10, '-');
  s[0] = type_char(n.type);
  const char* rwx = "rwx";
  for (int i = 0; i < 9; ++i)
    if (n.mode & (0400u >> i)) s[1 + i] = rwx[i % 3];
  auto special = [&](size_t pos, uint32_t bit, char with_x, char without_x) {
    if (n.mode & bit) s[pos] = s[pos] == 'x' ? with_x : without_x;
  };
  special(3, S_ISUID, 's', 'S');
  special(6, S_ISGID, 's', 'S');
  special(9, S_ISVTX, 't', 'T');
  return s;
}

std::string owner_string(const repo::Node& n) {
  std::string user = n.user.empty() ? std::to_string(n.uid) : printable(n.user);
  std::string group = n.group.empty() ? std::to_string(n.gid) : printable(n.group);
  return user + "/" + group;
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

Json entry_json(const std::string& path, const repo::Node& n) {
  Json j{{"path", json_bytes(path)},
         {"name", json_bytes(n.name)},
         {"type", node_type_name(n.type)},
         {"mode", n.mode},
         {"permissions", mode_string(n)},
         {"uid", n.uid},
         {"gid", n.gid},
         {"user", json_bytes(n.user)},
         {"group", json_bytes(n.group)},
         {"size", n.size},
         {"mtime", format_rfc3339(n.mtime_ns)},
         {"links", n.links}};
  if (n.type == repo::NodeType::kSymlink) j["symlink_target"] = json_bytes(n.symlink_target);
  if (n.type == repo::NodeType::kBlockDevice || n.type == repo::NodeType::kCharDevice)
    j["rdev"] = n.rdev;
  if (n.type == repo::NodeType::kDir) j["subtree"] = n.subtree.hex();
  if (n.damaged) j["damaged"] = true;
  return j;
}

class Lister {
 public:
  Lister(const repo::Repository& repo, const Flags& f, bool json)
      : repo_(repo), flags_(f), json_(json) {}

  void entry(const std::string& path, const repo::Node& n) {
    if (json_) {
      entries_.push_back(entry_json(path, n));
      return;
    }
    std::string shown = printable(path) + (n.type == repo::NodeType::kDir && path != "/" ? "/" : "");
    if (!flags_.long_format) {
      print_out(shown + "\n");
      return;
    }
    std::string line = fmt::format("{} {:>3} {:<17} {:>12} {} {}", mode_string(n), n.links,
                                   owner_string(n), n.size, format_local_time(n.mtime_ns), shown);
    if (n.type == repo::NodeType::kSymlink) line += " -> " + printable(n.symlink_target);
    if (n.damaged) line += "  (damaged at backup)";
    print_out(line + "\n");
  }

  // Lists the children of directory `dir` (recursively with -r).
  void directory(const std::string& dir_path, const Id& tree_id) {
    repo::Tree tree = repo_.load_tree(tree_id);
    for (const auto& n : tree.nodes) {
      std::string path = child_path(dir_path, n.name);
      entry(path, n);
      if (flags_.recursive && n.type == repo::NodeType::kDir) directory(path, n.subtree);
    }
  }

  Json take_entries() { return std::move(entries_); }

 private:
  const repo::Repository& repo_;
  const Flags& flags_;
  bool json_;
  Json entries_ = Json::array();
};

}  // namespace

CommandRun setup_ls(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("ls", "list files in a snapshot");
  cmd->add_option("snapshot", f->snapshot, "snapshot id, unique prefix (4+ hex digits) or 'latest'")
      ->required();
  cmd->add_option("path", f->path, "a directory or file inside the snapshot (default: its root)");
  cmd->add_option("--account", f->account, "with 'latest': the newest snapshot of this account");
  cmd->add_flag("-l,--long", f->long_format, "show mode, owner, size and time");
  cmd->add_flag("-r,--recursive", f->recursive, "list subdirectories too");

  return [f, &g]() -> int {
    auto repo = open_repository(g, true);
    auto [id, snapshot] = repo->find_snapshot(f->snapshot, f->account);
    repo::Node node = find_snapshot_node(*repo, id, snapshot, f->path);
    std::string path = join_path(split_path(f->path));

    if (!g.json && g.verbose)
      print_out(fmt::format("snapshot {} of {} ({}), {}:\n", id.short_hex(),
                            printable(snapshot.account), format_local_time(snapshot.time),
                            printable(path)));
    Lister lister(*repo, *f, g.json);
    if (node.type == repo::NodeType::kDir)
      lister.directory(path, node.subtree);
    else
      lister.entry(path, node);
    if (g.json)
      print_json(Json{{"snapshot_id", id.hex()},
                      {"short_id", id.short_hex()},
                      {"path", json_bytes(path)},
                      {"entries", lister.take_entries()}});
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
