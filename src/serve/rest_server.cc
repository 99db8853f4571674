#include "serve/rest_server.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "backend/local_backend.h"
#include "base/error.h"
#include "crypto/mac.h"

namespace lifeboat::serve {

namespace {

using backend::Handle;
using backend::LocalBackend;
using backend::ObjectType;

std::optional<ObjectType> type_of(const std::string& dir) {
  for (ObjectType t : {ObjectType::kKey, ObjectType::kData, ObjectType::kIndex, ObjectType::kSnapshot,
                       ObjectType::kLock})
    if (dir == backend::object_type_dir(t)) return t;
  return std::nullopt;
}

bool is_loopback(const std::string& host) {
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return host == "localhost";
}

// What a request path names: a repository path, and in it the config, a
// type's listing, or one object.
struct Target {
  std::string repo;  // "nodes/web209"
  enum Kind { kRoot, kList, kObject } kind = kRoot;
  ObjectType type = ObjectType::kConfig;
  std::string name;
};

std::optional<Target> parse(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  for (const auto& p : parts)
    if (p[0] == '.') return std::nullopt;  // no "..", no hidden names
  const bool dir = !path.empty() && path.back() == '/';
  Target t;
  auto join = [&](size_t n) {
    std::string s;
    for (size_t k = 0; k < n; ++k) s += (k ? "/" : "") + parts[k];
    return s;
  };
  const size_t n = parts.size();
  if (!dir && n >= 1 && parts[n - 1] == "config") {
    t.kind = Target::kObject;
    t.repo = join(n - 1);
  } else if (dir && n >= 1 && type_of(parts[n - 1])) {
    t.kind = Target::kList;
    t.type = *type_of(parts[n - 1]);
    t.repo = join(n - 1);
  } else if (!dir && n >= 2 && type_of(parts[n - 2])) {
    t.kind = Target::kObject;
    t.type = *type_of(parts[n - 2]);
    t.name = parts[n - 1];
    t.repo = join(n - 2);
  } else {
    t.kind = Target::kRoot;
    t.repo = join(n);
  }
  return t;
}

int status_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 403;
    case ErrorCode::kCorrupt: return 416;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kPermission: return 403;
    case ErrorCode::kNoSpace: return 507;  // Insufficient Storage: the client will not retry
    default: return 500;
  }
}

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

struct RestServer::Impl {
  ServeOptions options;
  Credentials credentials;
  std::unique_ptr<httplib::Server> server;
  int port = 0;

  void refuse(httplib::Response& res, int status, const std::string& why) {
    res.status = status;
    res.set_content(why + "\n", "text/plain");
  }

  // The credential of the request, or nullopt after answering 401.
  std::optional<Credential> authenticate(const httplib::Request& req, httplib::Response& res) {
    const std::string auth = req.get_header_value("Authorization");
    std::optional<Credential> who;
    if (auth.rfind("Basic ", 0) == 0) {
      const std::string b64 = auth.substr(6);
      std::string plain(b64.size(), '\0');
      size_t len = 0;
      if (sodium_base642bin(reinterpret_cast<unsigned char*>(plain.data()), plain.size(), b64.data(), b64.size(),
                            nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0) {
        plain.resize(len);
        const auto colon = plain.find(':');
        if (colon != std::string::npos)
          who = credentials.authenticate(plain.substr(0, colon), plain.substr(colon + 1));
      }
    }
    if (!who) {
      res.set_header("WWW-Authenticate", "Basic realm=\"lifeboat\"");
      refuse(res, 401, "unknown credential or wrong password");
    }
    return who;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    auto who = authenticate(req, res);
    if (!who) return;
    res.set_header("X-Lifeboat-Credential", who->name);
    auto target = parse(req.path);
    if (!target) return refuse(res, 400, "bad path " + req.path);
    if (target->repo != who->path)
      return refuse(res, 403, "credential '" + who->name + "' may only reach repository path '" + who->path +
                                  "', not '" + target->repo + "'");
    auto store = std::make_shared<LocalBackend>(options.root + "/" + target->repo);
    try {
      if (target->kind == Target::kRoot) {
        if (req.method == "POST" && req.get_param_value("create") == "true") {
          if (!store->size({ObjectType::kConfig, "config"})) store->create();
          return;
        }
        return refuse(res, 400, "not a repository object: " + req.path);
      }
      if (target->kind == Target::kList) {
        if (req.method != "GET") return refuse(res, 405, "only GET lists");
        const bool v2 = req.get_header_value("Accept").find("vnd.x.restic.rest.v2") != std::string::npos;
        nlohmann::json out = nlohmann::json::array();
        store->list(target->type, [&](std::string_view name, uint64_t size) {
          if (v2) out.push_back({{"name", std::string(name)}, {"size", size}});
          else out.push_back(std::string(name));
        });
        res.set_content(out.dump(), v2 ? "application/vnd.x.restic.rest.v2" : "application/vnd.x.restic.rest.v1");
        return;
      }
      const Handle h{target->type, target->kind == Target::kObject && target->type == ObjectType::kConfig
                                       ? std::string("config")
                                       : target->name};
      if (req.method == "GET" || req.method == "HEAD") {
        auto size = store->size(h);
        if (!size) return refuse(res, 404, h.describe() + " not found");
        // Streamed in ranges from disk; httplib answers Range requests
        // (206) and HEAD from the length alone.
        res.set_content_provider(
            *size, "application/octet-stream",
            [store, h](size_t offset, size_t length, httplib::DataSink& sink) {
              const size_t chunk = std::min<size_t>(length, 1 << 20);
              Bytes b = store->load(h, offset, chunk);
              return sink.write(reinterpret_cast<const char*>(b.data()), b.size());
            });
        return;
      }
      if (req.method == "POST") {
        ByteView body(reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size());
        // Every object but the config and locks is named by the SHA-256 of
        // its bytes (lifeboat's and restic's format alike): a damaged
        // upload never becomes an object.
        if (h.type != ObjectType::kConfig && h.type != ObjectType::kLock &&
            crypto::sha256(body).hex() != h.name)
          return refuse(res, 400, h.describe() + ": the content does not match its name (damaged upload)");
        store->save(h, body);
        return;
      }
      if (req.method == "DELETE") {
        // Append-only: only locks (a client's own) may go; everything else
        // needs an admin credential.
        if (who->role != Role::kAdmin && h.type != ObjectType::kLock)
          return refuse(res, 403, "credential '" + who->name + "' is append-only: it may not delete " +
                                      h.describe());
        store->remove(h);
        return;
      }
      refuse(res, 405, "method " + req.method + " not allowed");
    } catch (const Error& e) {
      refuse(res, status_for(e), e.message());
    }
  }
};

RestServer::RestServer(ServeOptions options, Credentials credentials)
    : impl_(std::make_unique<Impl>(Impl{std::move(options), std::move(credentials), nullptr, 0})) {
  auto& o = impl_->options;
  if (o.tls_cert.empty() != o.tls_key.empty())
    throw Error(ErrorCode::kInvalidArgument, "give both --tls-cert and --tls-key, or neither");
  if (o.tls_cert.empty() && !is_loopback(o.host))
    throw Error(ErrorCode::kInvalidArgument,
                "plain HTTP is only served on loopback; give --tls-cert and --tls-key to listen on " + o.host);
  if (!o.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid())
      throw Error(ErrorCode::kInvalidArgument,
                  "cannot use TLS certificate " + o.tls_cert + " with key " + o.tls_key);
    impl_->server = std::move(ssl);
  } else {
    impl_->server = std::make_unique<httplib::Server>();
  }
  auto* impl = impl_.get();
  auto handler = [impl](const httplib::Request& req, httplib::Response& res) { impl->handle(req, res); };
  impl->server->Get(".*", handler);
  impl->server->Post(".*", handler);
  impl->server->Delete(".*", handler);
  impl->server->set_payload_max_length(1ull << 30);
  // Without it, each response's last segment waits for the client's delayed
  // ACK (40 ms): a restore's thousands of small ranged reads ran 30x slower
  // than from a local repository.
  impl->server->set_tcp_nodelay(true);
  impl->server->set_logger([impl](const httplib::Request& req, const httplib::Response& res) {
    if (!impl->options.log) return;
    impl->options.log(now_text() + " " + req.remote_addr + " " + res.get_header_value("X-Lifeboat-Credential") +
                      " " + req.method + " " + req.path + " " + std::to_string(res.status) + " " +
                      std::to_string(req.body.size()));  // bytes received
  });
  impl->port = o.port == 0 ? impl->server->bind_to_any_port(o.host) : (impl->server->bind_to_port(o.host, o.port) ? o.port : -1);
  if (impl->port <= 0)
    throw Error(ErrorCode::kIo, "cannot listen on " + o.host + ":" + std::to_string(o.port));
}

RestServer::~RestServer() = default;
int RestServer::bound_port() const { return impl_->port; }
void RestServer::run() { impl_->server->listen_after_bind(); }
void RestServer::stop() { impl_->server->stop(); }

}  // namespace lifeboat::serve
