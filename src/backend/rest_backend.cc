#include "backend/rest_backend.h"

#include <curl/curl.h>

#include <cstdlib>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

namespace lifeboat::backend {

namespace {

// curl_global_init is not thread-safe: done once, before any handle.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
void init_curl_once() { static CurlGlobal once; }

size_t write_body(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<RestBackend::Response*>(user);
  out->body.insert(out->body.end(), reinterpret_cast<uint8_t*>(data),
                   reinterpret_cast<uint8_t*>(data) + size * n);
  return size * n;
}

// 507 (the server's storage is full) will not pass on a retry.
// The start of a response's body, for messages (servers explain errors there).
std::string body_detail(const RestBackend::Response& r) {
  std::string detail(r.body.begin(), r.body.begin() + std::min<size_t>(r.body.size(), 200));
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  return detail;
}

bool retryable_status(long status) { return status == 429 || (status >= 500 && status != 507); }

bool retryable_transport(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct RestBackend::Request {
  const char* method;        // "GET", "HEAD", "POST", "DELETE"
  std::string path;          // "/keys/<name>", "/?create=true", "/data/"
  ByteView body;             // POST
  std::optional<std::pair<uint64_t, uint64_t>> range;  // GET: first, last (inclusive)
  bool list = false;         // GET with the v2 Accept header
};

RestBackend::RestBackend(const std::string& url, RestOptions options) : options_(options) {
  init_curl_once();
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
  if (const auto at = authority.rfind('@'); at != std::string::npos) {
    std::string creds = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = creds.find(':');
    user_ = creds.substr(0, colon);
    if (colon != std::string::npos) password_ = creds.substr(colon + 1);
  }
  if (authority.empty())
    throw Error(ErrorCode::kInvalidArgument, "REST repository URL 'rest:" + scheme + "://...' has no host");
  if (password_.empty())
    if (const char* p = std::getenv("LIFEBOAT_REST_PASSWORD")) password_ = p;
  base_ = scheme + "://" + authority + path;
  shown_ = "rest:" + scheme + "://" + (user_.empty() ? "" : user_ + "@") + authority + path;
}

RestBackend::~RestBackend() {
  for (void* c : idle_) curl_easy_cleanup(static_cast<CURL*>(c));
}

void* RestBackend::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return in_use_ < std::max<size_t>(1, options_.max_connections); });
  ++in_use_;
  if (!idle_.empty()) {
    void* c = idle_.back();
    idle_.pop_back();
    return c;
  }
  lock.unlock();
  CURL* c = curl_easy_init();
  if (!c) {
    std::lock_guard relock(mu_);
    --in_use_;
    cv_.notify_one();
    throw Error(ErrorCode::kInternal, "libcurl could not make a handle");
  }
  return c;
}

void RestBackend::release(void* curl) {
  std::lock_guard lock(mu_);
  idle_.push_back(curl);
  --in_use_;
  cv_.notify_one();
}

RestBackend::Response RestBackend::perform(const Request& req) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string last_error;
  auto backoff = options_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    Response r;
    CURL* c = static_cast<CURL*>(acquire());
    struct Release {
      RestBackend* self;
      CURL* c;
      ~Release() { self->release(c); }
    } release_guard{this, c};
    curl_easy_reset(c);  // options only: the connection cache stays
    const std::string url = base_ + req.path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
    if (!user_.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    std::string range;
    if (std::string_view(req.method) == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (std::string_view(req.method) == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    } else if (std::string_view(req.method) == "DELETE") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (req.range) {
      range = std::to_string(req.range->first) + "-" + std::to_string(req.range->second);
      curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
      r.body.reserve(req.range->second - req.range->first + 1);
    }
    if (req.list) headers = curl_slist_append(headers, "Accept: application/vnd.x.restic.rest.v2");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
      curl_off_t length = -1;
      curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length >= 0) r.content_length = static_cast<uint64_t>(length);
      if (!retryable_status(r.status)) return r;
      const std::string detail = body_detail(r);
      last_error = "HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ": " + detail);
      if (attempt >= options_.attempts)
        throw Error(ErrorCode::kUnavailable,
                    "the server at " + shown_ + " keeps failing (" + std::string(req.method) + " " +
                        req.path + ": " + last_error + ", " + std::to_string(attempt) +
                        " attempts); see its log");
    } else {
      if (!retryable_transport(rc))
        throw Error(ErrorCode::kIo, std::string(req.method) + " " + shown_ + req.path + ": " +
                                        (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
      last_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    }
    if (attempt >= options_.attempts)
      throw Error(ErrorCode::kUnavailable,
                  "cannot reach " + shown_ + " (" + std::string(req.method) + " " + req.path + ": " +
                      last_error + ", " + std::to_string(attempt) +
                      " attempts); check that the server is up and the URL is right");
    // Exponential backoff with full jitter: many clients do not retry in step.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
}

std::string RestBackend::path_of(const Handle& h) const {
  (void)h.path();  // validates the name (throws kInvalidArgument)
  if (h.type == ObjectType::kConfig) return "/config";
  return "/" + std::string(object_type_dir(h.type)) + "/" + h.name;
}

void RestBackend::fail(const Request& req, const Response& r, const std::string& object) const {
  const std::string what =
      (object.empty() ? "" : object + ": ") + std::string(req.method) + " " + shown_ + req.path;
  const std::string detail = body_detail(r);
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
    throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " + shown_);
  Request req{"POST", "/?create=true", {}, {}, false};
  Response r = perform(req);
  if (r.status != 200) fail(req, r);
}

void RestBackend::save(const Handle& h, ByteView data) {
  Request req{"POST", path_of(h), data, {}, false};
  if (h.type == ObjectType::kLock) {
    remove(h);
  } else if (size(h)) {
    throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + shown_);
  }
  Response r = perform(req);
  if (r.status == 200) return;
  if (r.status == 403 || r.status == 409) {
    // Refused as an overwrite: ours from an attempt whose answer was lost
    // (same size: content-addressed), or another writer's.
    auto existing = size(h);
    if (existing && *existing == data.size()) return;
    if (existing)
      throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + shown_);
  }
  fail(req, r, h.describe());
}

Bytes RestBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  Request req{"GET", path_of(h), {}, {}, false};
  if (length > 0 && offset > UINT64_MAX - length)
    throw Error(ErrorCode::kCorrupt, h.describe() + ": range past the end in " + shown_);
  if (offset > 0 || length > 0) {
    if (length == 0) {
      auto total = size(h);
      if (!total) fail(req, Response{404, {}, {}}, h.describe());
      if (offset > *total) throw Error(ErrorCode::kCorrupt, h.describe() + ": range past the end in " + shown_);
      if (offset == *total) return {};
      length = *total - offset;
    }
    req.range = std::make_pair(offset, offset + length - 1);
  }
  Response r = perform(req);
  if (r.status != 200 && r.status != 206) fail(req, r, h.describe());
  if (req.range && r.body.size() != length)
    throw Error(ErrorCode::kCorrupt, h.describe() + " in " + shown_ + ": asked for " +
                                         std::to_string(length) + " bytes at " + std::to_string(offset) +
                                         ", got " + std::to_string(r.body.size()) +
                                         " (range past the end?)");
  return std::move(r.body);
}

std::optional<uint64_t> RestBackend::size(const Handle& h) {
  Request req{"HEAD", path_of(h), {}, {}, false};
  Response r = perform(req);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(req, r, h.describe());
  if (!r.content_length) throw Error(ErrorCode::kIo, "HEAD " + shown_ + req.path + ": no Content-Length");
  return r.content_length;
}

void RestBackend::remove(const Handle& h) {
  Request req{"DELETE", path_of(h), {}, {}, false};
  Response r = perform(req);
  if (r.status == 200 || r.status == 204 || r.status == 404) return;
  fail(req, r, h.describe());
}

void RestBackend::list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) {
  if (type == ObjectType::kConfig) {
    if (auto s = size({ObjectType::kConfig, "config"})) fn("config", *s);
    return;
  }
  Request req{"GET", "/" + std::string(object_type_dir(type)) + "/", {}, {}, true};
  Response r = perform(req);
  if (r.status == 404) return;  // no such directory yet
  if (r.status != 200) fail(req, r);
  std::vector<std::pair<std::string, uint64_t>> items;
  try {
    auto j = nlohmann::json::parse(r.body.begin(), r.body.end());
    for (const auto& e : j) items.emplace_back(e.at("name").get<std::string>(), e.at("size").get<uint64_t>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kIo, "GET " + shown_ + req.path + ": not a REST v2 listing (" + e.what() +
                                    "); is this a restic REST server?");
  }
  // The callback may use the backend (the listing is complete first).
  for (const auto& [name, sz] : items) {
    if (name.empty() || name[0] == '.') continue;
    fn(name, sz);
  }
}

}  // namespace lifeboat::backend
