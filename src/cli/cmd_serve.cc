// lifeboat serve: a repository server for offsite hosts (restic REST v2).
//   serve --root DIR --credentials FILE [--listen HOST:PORT] [--tls-cert F --tls-key F] [--log FILE]
//   serve add-credential --credentials FILE --name N --path P [--admin] [--new-password-file F]
// The server itself is src/serve/; this file parses flags, logs and stops
// cleanly on SIGINT/SIGTERM.
#include <fstream>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "serve/rest_server.h"

namespace lifeboat::cli {
namespace {

struct ServeFlags {
  std::string root, credentials, listen = "127.0.0.1:8000", tls_cert, tls_key, log;
};

struct AddFlags {
  std::string credentials, name, path, new_password_file;
  bool admin = false;
};

std::pair<std::string, int> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(text.substr(colon + 1));
    } catch (const std::exception&) {
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535)
    throw Error(ErrorCode::kInvalidArgument, "--listen '" + text + "' is not HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, port};
}

int run_serve(const ServeFlags& f, const GlobalOptions& g) {
  serve::ServeOptions o;
  o.root = f.root;
  std::tie(o.host, o.port) = parse_listen(f.listen);
  o.tls_cert = f.tls_cert;
  o.tls_key = f.tls_key;
  auto log_mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::ofstream> log_file;
  if (!f.log.empty() && f.log != "-") {
    log_file = std::make_shared<std::ofstream>(f.log, std::ios::app);
    if (!*log_file) throw Error(ErrorCode::kInvalidArgument, "cannot append to the request log " + f.log);
  }
  if (!f.log.empty())
    o.log = [log_mu, log_file](const std::string& line) {
      std::lock_guard lock(*log_mu);
      if (log_file) {
        *log_file << line << '\n';
        log_file->flush();
      } else {
        print_out(line + "\n");
      }
    };
  serve::Credentials creds = serve::Credentials::load(f.credentials);
  const size_t n = creds.size();
  serve::RestServer server(o, std::move(creds));
  set_stop_hook([&server] { server.stop(); });
  if (!g.quiet)
    print_warning(fmt::format("serving {} on {}://{}:{} for {} credentials; SIGTERM or Ctrl-C stops",
                              f.root, f.tls_cert.empty() ? "http" : "https", o.host, server.bound_port(), n));
  server.run();
  if (!g.quiet) print_warning("server stopped");
  return kExitOk;
}

int run_add(const AddFlags& f, const GlobalOptions& g) {
  std::string password = get_new_password(f.new_password_file);
  std::string line = serve::Credentials::make_line(f.name, f.path, f.admin ? serve::Role::kAdmin : serve::Role::kAppend, password);
  // The file must stay loadable: check the new line with the others first.
  {
    std::ofstream out(f.credentials, std::ios::app);
    if (!out) throw Error(ErrorCode::kInvalidArgument, "cannot append to credentials file " + f.credentials);
    out << line << '\n';
  }
  serve::Credentials::load(f.credentials);
  if (!g.quiet)
    print_out(fmt::format("added credential '{}' ({}) for repository path '{}' to {}\n", f.name,
                          f.admin ? "admin: may delete" : "append-only", f.path, f.credentials));
  return kExitOk;
}

}  // namespace

CommandRun setup_serve(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "serve repositories over restic's REST protocol (offsite hosts)");
  cmd->add_option("--root", f->root, "directory holding the repositories");
  cmd->add_option("--credentials", f->credentials, "credentials file (name:path:append|admin:hash lines)");
  cmd->add_option("--listen", f->listen, "HOST:PORT (default 127.0.0.1:8000; plain HTTP only on loopback)");
  cmd->add_option("--tls-cert", f->tls_cert, "TLS certificate (PEM)");
  cmd->add_option("--tls-key", f->tls_key, "TLS private key (PEM)");
  cmd->add_option("--log", f->log, "append a line per request to this file ('-': standard output)");
  auto a = std::make_shared<AddFlags>();
  auto* add = cmd->add_subcommand("add-credential", "add a credential (hashed password) to a credentials file");
  add->add_option("--credentials", a->credentials, "credentials file")->required();
  add->add_option("--name", a->name, "credential name (the HTTP user)")->required();
  add->add_option("--path", a->path, "the one repository path it reaches, relative to the root")->required();
  add->add_flag("--admin", a->admin, "may delete (for prune); default: append-only");
  add->add_option("--new-password-file", a->new_password_file, "read the password from this file");
  return [f, a, add, &g]() -> int {
    if (add->parsed()) return run_add(*a, g);
    if (f->root.empty() || f->credentials.empty())
      throw Error(ErrorCode::kInvalidArgument, "serve needs --root and --credentials");
    return run_serve(*f, g);
  };
}

}  // namespace lifeboat::cli
