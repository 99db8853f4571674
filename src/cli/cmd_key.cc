// lifeboat key list|add|remove|passwd: the key files that open a repository.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

namespace {

struct Flags {
  std::string new_password_file;
  std::string label;
  std::string remove_id;
};

// The full name of a key file given by its name or a unique prefix.
std::string resolve_key(repo::Repository& repo, const std::string& ref) {
  if (ref.size() < 4 || ref.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(ErrorCode::kInvalidArgument,
                "'" + one_line(ref) + "' is not a key id (use 4-64 hex digits from 'lifeboat key list')");
  std::vector<std::string> matches;
  repo.backend().list(backend::ObjectType::kKey, [&](std::string_view name, uint64_t) {
    if (name.substr(0, ref.size()) == ref) matches.emplace_back(name);
  });
  if (matches.empty())
    throw Error(ErrorCode::kNotFound,
                "no key " + ref + " in " + repo.location() + "; 'lifeboat key list' lists them");
  if (matches.size() > 1)
    throw Error(ErrorCode::kInvalidArgument, "key prefix " + ref + " is ambiguous; give more digits");
  return matches[0];
}

void warn_fast_kdf() {
  if (fast_kdf_requested())
    print_warning("LIFEBOAT_TEST_FAST_KDF=1: the key uses test-only key derivation that is "
                  "cheap to brute-force; never use it for real data");
}

int key_list(const GlobalOptions& g) {
  auto repo = open_repository(g, false);
  auto keys = repo->list_keys();
  if (g.json) {
    Json out = Json::array();
    for (const auto& k : keys)
      out.push_back(Json{{"id", k.name},
                         {"current", k.name == repo->key_name()},
                         {"created", format_rfc3339(k.created)},
                         {"hostname", k.hostname},
                         {"username", k.username},
                         {"label", k.label}});
    print_json(out);
    return kExitOk;
  }
  std::string text = fmt::format("  {:<8}  {:<19}  {:<20}  {:<12}  {}\n", "ID", "Created",
                                 "Host", "User", "Label");
  for (const auto& k : keys)
    text += fmt::format("{} {:<8}  {:<19}  {:<20}  {:<12}  {}\n",
                        k.name == repo->key_name() ? '*' : ' ', k.name.substr(0, 8),
                        format_local_time(k.created), printable(k.hostname),
                        printable(k.username), printable(k.label));
  text += fmt::format("{} keys (* = the key this password opened)\n", keys.size());
  print_out(text);
  return kExitOk;
}

int key_add(const GlobalOptions& g, const Flags& f) {
  auto repo = open_repository(g, false);
  std::string password = get_new_password(f.new_password_file);
  std::string name = repo->add_key(password, kdf_params_for_new_keys(), new_key_info(f.label));
  warn_fast_kdf();
  if (g.json)
    print_json(Json{{"added", name}});
  else if (!g.quiet)
    print_out(fmt::format("added key {}\n", name.substr(0, 8)));
  return kExitOk;
}

int key_remove(const GlobalOptions& g, const Flags& f) {
  auto repo = open_repository(g, false);
  std::string name = resolve_key(*repo, f.remove_id);
  repo->remove_key(name);
  if (g.json)
    print_json(Json{{"removed", name}});
  else if (!g.quiet)
    print_out(fmt::format("removed key {}\n", name.substr(0, 8)));
  return kExitOk;
}

// A new key with the new password, then — once the new key is proven to
// open the repository — the current key removed.
int key_passwd(const GlobalOptions& g, const Flags& f) {
  std::string old_password;
  auto repo = open_repository(g, false, &old_password);
  std::string old_name = repo->key_name();
  std::string password = get_new_password(f.new_password_file);
  if (password == old_password)
    throw Error(ErrorCode::kInvalidArgument,
                "the new password is the same as the current one; nothing was changed");
  std::string label = f.label;
  if (label.empty())
    for (const auto& k : repo->list_keys())
      if (k.name == old_name) label = k.label;
  std::string new_name = repo->add_key(password, kdf_params_for_new_keys(), new_key_info(label));
  warn_fast_kdf();

  std::shared_ptr<backend::Backend> backend = backend::open_backend(repository_location(g));
  repo::RepositoryOptions options;
  options.warn = [](const std::string& m) { print_warning(m); };
  auto reopened = repo::Repository::open(backend, password, options);
  reopened->remove_key(old_name);
  if (g.json)
    print_json(Json{{"added", new_name}, {"removed", old_name}});
  else if (!g.quiet)
    print_out(fmt::format("password changed: added key {}, removed key {}\n",
                          new_name.substr(0, 8), old_name.substr(0, 8)));
  return kExitOk;
}

}  // namespace

CommandRun setup_key(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("key", "manage the key files (passwords) of the repository");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "list key files");
  auto* add = cmd->add_subcommand("add", "add a key file for a new password");
  add->add_option("--new-password-file", f->new_password_file,
                  "read the new password from the first line of FILE");
  add->add_option("--label", f->label, "a label for the key (e.g. the node or job using it)");
  auto* remove = cmd->add_subcommand("remove", "remove a key file (not the one in use)");
  remove->add_option("id", f->remove_id, "the key's id or a unique prefix")->required();
  auto* passwd = cmd->add_subcommand("passwd", "change the password: add a new key, remove this one");
  passwd->add_option("--new-password-file", f->new_password_file,
                     "read the new password from the first line of FILE");
  passwd->add_option("--label", f->label, "a label for the new key (default: the old key's)");

  return [f, &g, list, add, remove, passwd]() -> int {
    if (list->parsed()) return key_list(g);
    if (add->parsed()) return key_add(g, *f);
    if (remove->parsed()) return key_remove(g, *f);
    if (passwd->parsed()) return key_passwd(g, *f);
    throw Error(ErrorCode::kInvalidArgument, "'lifeboat key' needs list, add, remove or passwd");
  };
}

}  // namespace lifeboat::cli
