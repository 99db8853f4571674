#include "backend/rest_backend.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

namespace lifeboat::backend {

RestBackend::RestBackend(const std::string& url, HttpOptions options) {
  const auto scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw Error(ErrorCode::kInvalidArgument,
                "REST repository URL 'rest:" + url + "' must start with rest:http:// or rest:https://");
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string user, password;
  if (const auto at = authority.rfind('@'); at != std::string::npos) {
    std::string creds = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = creds.find(':');
    user = creds.substr(0, colon);
    if (colon != std::string::npos) password = creds.substr(colon + 1);
  }
  if (authority.empty())
    throw Error(ErrorCode::kInvalidArgument, "REST repository URL 'rest:" + scheme + "://...' has no host");
  if (password.empty())
    if (const char* p = std::getenv("LIFEBOAT_REST_PASSWORD")) password = p;
  http_ = std::make_unique<HttpClient>(
      scheme + "://" + authority + path,
      "rest:" + scheme + "://" + (user.empty() ? "" : user + "@") + authority + path, options);
  if (!user.empty()) http_->set_basic_auth(user, password);
}

std::string RestBackend::path_of(const Handle& h) const {
  (void)h.path();  // validates the name (throws kInvalidArgument)
  if (h.type == ObjectType::kConfig) return "/config";
  return "/" + std::string(object_type_dir(h.type)) + "/" + h.name;
}

void RestBackend::fail(const HttpRequest& req, const HttpResponse& r, const std::string& object) const {
  const std::string what =
      (object.empty() ? "" : object + ": ") + std::string(req.method) + " " + http_->shown() + req.path;
  const std::string detail = r.detail();
  const std::string suffix = " (HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ": " + detail) + ")";
  switch (r.status) {
    case 401:
      throw Error(ErrorCode::kPermission, what + ": the server refused the credentials" + suffix +
                                              "; check the user and password");
    case 403:
      throw Error(ErrorCode::kPermission, what + ": the server refused" + suffix +
                                              " (append-only, or another node's path?)");
    case 404: throw Error(ErrorCode::kNotFound, what + ": not found" + suffix);
    case 416: throw Error(ErrorCode::kCorrupt, what + ": range past the end" + suffix);
    case 507: throw Error(ErrorCode::kNoSpace, what + ": the server's storage is full" + suffix);
    default: throw Error(ErrorCode::kIo, what + suffix);
  }
}

void RestBackend::create() {
  if (size({ObjectType::kConfig, "config"}))
    throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " + http_->shown());
  HttpRequest req{"POST", "/?create=true", {}, {}, {}};
  HttpResponse r = http_->perform(req);
  if (r.status != 200) fail(req, r);
}

void RestBackend::save(const Handle& h, ByteView data) {
  HttpRequest req{"POST", path_of(h), data, {}, {}};
  if (h.type == ObjectType::kLock) {
    remove(h);
  } else if (size(h)) {
    throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + http_->shown());
  }
  HttpResponse r = http_->perform(req);
  if (r.status == 200) return;
  if (r.status == 403 || r.status == 409) {
    // Refused as an overwrite: ours from an attempt whose answer was lost
    // (same size: content-addressed), or another writer's.
    auto existing = size(h);
    if (existing && *existing == data.size()) return;
    if (existing)
      throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + http_->shown());
  }
  fail(req, r, h.describe());
}

Bytes RestBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  return http_->load(
      HttpRequest{"GET", path_of(h), {}, {}, {}}, h.describe(), offset, length, [&] { return size(h); },
      [&](const HttpRequest& req, const HttpResponse& r) { fail(req, r, h.describe()); });
}

std::optional<uint64_t> RestBackend::size(const Handle& h) {
  HttpRequest req{"HEAD", path_of(h), {}, {}, {}};
  HttpResponse r = http_->perform(req);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(req, r, h.describe());
  if (!r.content_length) throw Error(ErrorCode::kIo, "HEAD " + http_->shown() + req.path + ": no Content-Length");
  return r.content_length;
}

void RestBackend::remove(const Handle& h) {
  HttpRequest req{"DELETE", path_of(h), {}, {}, {}};
  HttpResponse r = http_->perform(req);
  if (r.status == 200 || r.status == 204 || r.status == 404) return;
  fail(req, r, h.describe());
}

void RestBackend::list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) {
  if (type == ObjectType::kConfig) {
    if (auto s = size({ObjectType::kConfig, "config"})) fn("config", *s);
    return;
  }
  HttpRequest req{"GET", "/" + std::string(object_type_dir(type)) + "/", {}, {},
                  {"Accept: application/vnd.x.restic.rest.v2"}};
  HttpResponse r = http_->perform(req);
  if (r.status == 404) return;  // no such directory yet
  if (r.status != 200) fail(req, r);
  std::vector<std::pair<std::string, uint64_t>> items;
  try {
    auto j = nlohmann::json::parse(r.body.begin(), r.body.end());
    for (const auto& e : j) items.emplace_back(e.at("name").get<std::string>(), e.at("size").get<uint64_t>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kIo, "GET " + http_->shown() + req.path + ": not a REST v2 listing (" + e.what() +
                                    "); is this a restic REST server?");
  }
  // The callback may use the backend (the listing is complete first).
  for (const auto& [name, sz] : items) {
    if (name.empty() || name[0] == '.') continue;
    fn(name, sz);
  }
}

}  // namespace lifeboat::backend
