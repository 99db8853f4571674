// lifeboat cat: print one repository object, decrypted and decoded — for
// debugging and for people who want to see what is stored.
#include <memory>

#include <fmt/format.h>

#include "backend/backend.h"
#include "base/hex.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "repo/config.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/pack_reader.h"
#include "repo/sealed.h"

namespace lifeboat::cli {

namespace {

using backend::Handle;
using backend::ObjectType;

bool is_lower_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Id parse_full_id(const std::string& text, const char* what) {
  auto id = Id::from_hex(text);
  if (!id || !is_lower_hex(text))
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("'{}' is not a {} id (64 hex digits)", one_line(text), what));
  return *id;
}

// The full name of an object given by its name or a unique prefix (4+ hex digits).
std::string resolve_object(backend::Backend& be, ObjectType type, const std::string& ref,
                           const char* what) {
  if (ref.size() < 4 || ref.size() > 64 || !is_lower_hex(ref))
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("'{}' is not a {} id (use 4-64 hex digits)", one_line(ref), what));
  if (ref.size() == 64) {
    if (!be.size({type, ref}))
      throw Error(ErrorCode::kNotFound,
                  fmt::format("no {} {} in {}", what, ref, be.location()));
    return ref;
  }
  std::vector<std::string> matches;
  be.list(type, [&](std::string_view name, uint64_t) {
    if (name.substr(0, ref.size()) == ref) matches.emplace_back(name);
  });
  if (matches.empty())
    throw Error(ErrorCode::kNotFound, fmt::format("no {} {} in {}", what, ref, be.location()));
  if (matches.size() > 1)
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} prefix {} is ambiguous; give more digits", what, ref));
  return matches[0];
}

const char* compression_name(repo::Compression c) {
  return c == repo::Compression::kZstd ? "zstd" : "none";
}

Json entry_json(const repo::PackEntry& e) {
  return Json{{"id", e.id.hex()},
              {"type", repo::blob_type_name(e.type)},
              {"compression", compression_name(e.compression)},
              {"offset", e.offset},
              {"stored_length", e.stored_length},
              {"raw_length", e.raw_length}};
}

Json node_json(const repo::Node& n) {
  Json j{{"name", json_bytes(n.name)},
         {"type", node_type_name(n.type)},
         {"mode", n.mode},
         {"uid", n.uid},
         {"gid", n.gid},
         {"user", json_bytes(n.user)},
         {"group", json_bytes(n.group)},
         {"mtime", format_rfc3339(n.mtime_ns)},
         {"atime", format_rfc3339(n.atime_ns)},
         {"ctime", format_rfc3339(n.ctime_ns)},
         {"size", n.size},
         {"device", n.device},
         {"inode", n.inode},
         {"links", n.links}};
  if (n.type == repo::NodeType::kBlockDevice || n.type == repo::NodeType::kCharDevice)
    j["rdev"] = n.rdev;
  if (n.type == repo::NodeType::kSymlink) j["symlink_target"] = json_bytes(n.symlink_target);
  if (!n.xattrs.empty()) {
    Json x = Json::array();
    for (const auto& a : n.xattrs)
      x.push_back(Json{{"name", json_bytes(a.name)}, {"value_hex", to_hex(as_bytes(a.value))}});
    j["xattrs"] = x;
  }
  if (n.type == repo::NodeType::kFile) {
    Json c = Json::array();
    for (const auto& part : n.content)
      c.push_back(Json{{"blob", part.is_hole() ? Json(nullptr) : Json(part.blob.hex())},
                       {"length", part.length}});
    j["content"] = c;
  }
  if (n.type == repo::NodeType::kDir) j["subtree"] = n.subtree.hex();
  if (n.damaged) j["damaged"] = true;
  return j;
}

void print_json_text(std::string_view text) { print_json(Json::parse(text)); }

void cat_config(repo::Repository& repo) {
  Bytes sealed = repo.backend().load({ObjectType::kConfig, "config"});
  Bytes plain = repo::open_object(repo.keys().encryption, "config", sealed, "repository config");
  print_json_text(as_chars(plain));
}

void cat_snapshot(repo::Repository& repo, const std::string& ref) {
  auto [id, snapshot] = repo.find_snapshot(ref);
  print_json_text(repo::snapshot_to_json(snapshot));
}

void cat_tree(repo::Repository& repo, const std::string& ref) {
  Id id = parse_full_id(ref, "tree");
  repo.load_index();
  repo::Tree tree = repo.load_tree(id);
  Json nodes = Json::array();
  for (const auto& n : tree.nodes) nodes.push_back(node_json(n));
  print_json(Json{{"id", id.hex()}, {"nodes", nodes}});
}

void cat_blob(repo::Repository& repo, const std::string& ref) {
  Id id = parse_full_id(ref, "blob");
  repo.load_index();
  auto loc = repo.index().find(id);
  if (!loc)
    throw Error(ErrorCode::kNotFound,
                "no blob " + id.hex() + " in the index of " + repo.location());
  Bytes data = repo.load_blob(loc->entry.type, id);
  print_out(as_chars(data));
}

void cat_index(repo::Repository& repo, const std::string& ref) {
  std::string name = resolve_object(repo.backend(), ObjectType::kIndex, ref, "index segment");
  auto packs = repo::decode_index_segment(repo.keys().encryption,
                                          repo.backend().load({ObjectType::kIndex, name}), name);
  Json out = Json::array();
  for (const auto& p : packs) {
    Json blobs = Json::array();
    for (const auto& e : p.entries) blobs.push_back(entry_json(e));
    out.push_back(Json{{"id", p.id.hex()},
                       {"salt", to_hex(ByteView(p.salt.data(), p.salt.size()))},
                       {"blobs", blobs}});
  }
  print_json(Json{{"id", name}, {"packs", out}});
}

void cat_pack(repo::Repository& repo, const std::string& ref) {
  std::string name = resolve_object(repo.backend(), ObjectType::kData, ref, "pack");
  Id id = parse_full_id(name, "pack");
  Handle h{ObjectType::kData, name};
  backend::Backend& be = repo.backend();
  auto size = be.size(h);
  if (!size) throw Error(ErrorCode::kNotFound, "no pack " + name + " in " + be.location());
  // The footer (for its trailer length) and the trailer, which checks it.
  Bytes tail = be.load(h, *size - std::min<uint64_t>(*size, repo::kPackFooterSize),
                       std::min<uint64_t>(*size, repo::kPackFooterSize));
  repo::PackInfo info = repo::read_pack_trailer(be, repo.keys().encryption, id, *size);
  repo::PackFooter footer = repo::parse_pack_footer(tail, id);
  const auto& entries = info.entries;
  Json blobs = Json::array();
  for (const auto& e : entries) blobs.push_back(entry_json(e));
  print_json(Json{{"id", name},
                  {"size", *size},
                  {"salt", to_hex(ByteView(footer.salt.data(), footer.salt.size()))},
                  {"trailer_length", footer.trailer_length},
                  {"blobs", blobs}});
}

}  // namespace

CommandRun setup_cat(CLI::App& app, const GlobalOptions& g) {
  struct Flags {
    std::string type;
    std::string id;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "cat", "print a repository object decoded: config | snapshot ID | tree ID | blob ID | "
             "index ID | pack ID");
  cmd->add_option("type", f->type, "config, snapshot, tree, blob, index or pack")
      ->required()
      ->check(CLI::IsMember({"config", "snapshot", "tree", "blob", "index", "pack"}));
  cmd->add_option("id", f->id, "the object's id (snapshot, index, pack: a unique prefix will do)");

  return [f, &g]() -> int {
    if (f->type != "config" && f->id.empty())
      throw Error(ErrorCode::kInvalidArgument, "'lifeboat cat " + f->type + "' needs an id");
    if (f->type == "config" && !f->id.empty())
      throw Error(ErrorCode::kInvalidArgument, "'lifeboat cat config' takes no id");
    auto repo = open_repository(g, false);
    if (f->type == "config") cat_config(*repo);
    else if (f->type == "snapshot") cat_snapshot(*repo, f->id);
    else if (f->type == "tree") cat_tree(*repo, f->id);
    else if (f->type == "blob") cat_blob(*repo, f->id);
    else if (f->type == "index") cat_index(*repo, f->id);
    else if (f->type == "pack") cat_pack(*repo, f->id);
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
