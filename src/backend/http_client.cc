#include "backend/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "base/error.h"

namespace lifeboat::backend {

namespace {

// curl_global_init is not thread-safe: done once, before any handle.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
void init_curl_once() { static CurlGlobal once; }

size_t write_body(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<HttpResponse*>(user);
  out->body.insert(out->body.end(), reinterpret_cast<uint8_t*>(data),
                   reinterpret_cast<uint8_t*>(data) + size * n);
  return size * n;
}

struct Receiving {
  HttpResponse* response;
  const curl_socket_t* socket;
};

// Acknowledge what has arrived now instead of up to 40 ms later. A server
// that writes a response's headers and its body separately without
// TCP_NODELAY (Ceph's RADOS Gateway by default) holds a small body until
// the headers are acknowledged (Nagle), and Linux delays that ACK on a
// reused connection: every small ranged read then took 43 ms. Setting
// TCP_QUICKACK sends the pending ACK at once (one syscall per response).
void acknowledge_now(curl_socket_t fd) {
  if (fd == CURL_SOCKET_BAD) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

// Remembers the socket of the handle's connection (called when libcurl
// makes one; a reused connection keeps it). Each handle has a connection
// cache of its own, so the socket belongs to this handle alone.
int remember_socket(void* slot, curl_socket_t fd, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) *static_cast<curl_socket_t*>(slot) = fd;
  return CURL_SOCKOPT_OK;
}

size_t write_header(char* data, size_t size, size_t n, void* user) {
  auto* receiving = static_cast<Receiving*>(user);
  auto* out = receiving->response;
  std::string_view line(data, size * n);
  if (line == "\r\n") acknowledge_now(*receiving->socket);  // the headers are complete
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    if (line.starts_with("HTTP/")) out->headers.clear();  // a new response (after 100, redirects)
    return size * n;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  out->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

// 507 (the server's storage is full) will not pass on a retry.
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

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::string HttpResponse::detail() const {
  std::string d(body.begin(), body.begin() + std::min<size_t>(body.size(), 200));
  while (!d.empty() && (d.back() == '\n' || d.back() == '\r')) d.pop_back();
  return d;
}

struct HttpClient::Handle {
  CURL* curl;
  curl_socket_t socket = CURL_SOCKET_BAD;
};

HttpClient::HttpClient(std::string base, std::string shown, HttpOptions options)
    : base_(std::move(base)), shown_(std::move(shown)), options_(options) {
  init_curl_once();
}

HttpClient::~HttpClient() {
  for (Handle* h : idle_) {
    curl_easy_cleanup(h->curl);
    delete h;
  }
}

void HttpClient::set_basic_auth(std::string user, std::string password) {
  user_ = std::move(user);
  password_ = std::move(password);
  sigv4_provider_.clear();
}

void HttpClient::set_aws_sigv4(std::string provider, std::string key_id, std::string secret) {
  sigv4_provider_ = std::move(provider);
  user_ = std::move(key_id);
  password_ = std::move(secret);
}

void HttpClient::set_retryable(std::function<bool(const HttpResponse&)> retryable) {
  extra_retryable_ = std::move(retryable);
}

bool HttpClient::retryable(const HttpResponse& r) const {
  return retryable_status(r.status) || (extra_retryable_ && extra_retryable_(r));
}

HttpClient::Handle* HttpClient::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return in_use_ < std::max<size_t>(1, options_.max_connections); });
  ++in_use_;
  if (!idle_.empty()) {
    Handle* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  lock.unlock();
  CURL* c = curl_easy_init();
  if (!c) {
    std::lock_guard relock(mu_);
    --in_use_;
    cv_.notify_one();
    throw Error(ErrorCode::kInternal, "libcurl could not make a handle");
  }
  return new Handle{c};
}

void HttpClient::release(Handle* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
  --in_use_;
  cv_.notify_one();
}

HttpResponse HttpClient::perform(const HttpRequest& req) {
  std::string last_error;
  Backoff backoff(options_);
  const std::string_view method(req.method);
  for (int attempt = 1;; ++attempt) {
    HttpResponse r;
    Handle* handle = acquire();
    struct Release {
      HttpClient* self;
      Handle* h;
      ~Release() { self->release(h); }
    } release_guard{this, handle};
    CURL* c = handle->curl;
    curl_easy_reset(c);  // options only: the connection cache stays
    const std::string url = base_ + req.path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
    if (!sigv4_provider_.empty()) {
      curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4_provider_.c_str());
      curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    } else if (!user_.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, remember_socket);
    curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, &handle->socket);
    Receiving receiving{&r, &handle->socket};
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &receiving);
    struct curl_slist* headers = nullptr;
    // No 100-continue round trip — except under SigV4, where libcurl would
    // sign the header that only removes Expect and the server's signature
    // would differ. (S3 servers answer 100 at once, and refuse a doomed
    // upload, a 412 say, before its body is sent.)
    if (sigv4_provider_.empty()) headers = curl_slist_append(headers, "Expect:");
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    std::string range;
    if (method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method == "POST" || method == "PUT") {
      // The body is sent from the caller's buffer: no copy.
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      if (method == "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    } else if (method == "DELETE") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (req.range) {
      range = std::to_string(req.range->first) + "-" + std::to_string(req.range->second);
      curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
      r.body.reserve(req.range->second - req.range->first + 1);
    }
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
      r.attempts = attempt;
      if (!retryable(r)) return r;
      if (attempt >= options_.attempts && !retryable_status(r.status)) return r;
      const std::string detail = r.detail();
      last_error = "HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ": " + detail);
      if (attempt >= options_.attempts)
        throw Error(ErrorCode::kUnavailable,
                    "the server at " + shown_ + " keeps failing (" + std::string(method) + " " +
                        req.path + ": " + last_error + ", " + std::to_string(attempt) +
                        " attempts); see its log");
    } else {
      if (!retryable_transport(rc))
        throw Error(ErrorCode::kIo, std::string(method) + " " + shown_ + req.path + ": " +
                                        (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
      last_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    }
    if (attempt >= options_.attempts)
      throw Error(ErrorCode::kUnavailable,
                  "cannot reach " + shown_ + " (" + std::string(method) + " " + req.path + ": " +
                      last_error + ", " + std::to_string(attempt) +
                      " attempts); check that the server is up and the URL is right");
    backoff.wait();
  }
}

Bytes HttpClient::load(HttpRequest req, const std::string& object, uint64_t offset, uint64_t length,
                       const std::function<std::optional<uint64_t>()>& size,
                       const std::function<void(const HttpRequest&, const HttpResponse&)>& fail) {
  const auto past_end = [&] { return Error(ErrorCode::kCorrupt, object + ": range past the end in " + shown_); };
  if (length > 0 && offset > UINT64_MAX - length) throw past_end();
  if (offset > 0 || length > 0) {
    if (length == 0) {
      const auto total = size();
      if (!total) throw Error(ErrorCode::kNotFound, object + ": not found in " + shown_);
      if (offset > *total) throw past_end();
      if (offset == *total) return {};
      length = *total - offset;
    }
    req.range = std::make_pair(offset, offset + length - 1);
  }
  HttpResponse r = perform(req);
  if (r.status != 200 && r.status != 206) {
    fail(req, r);
    throw Error(ErrorCode::kIo, object + ": " + req.method + " " + shown_ + " answered HTTP " + std::to_string(r.status));
  }
  // A server that ignores Range answers 200 with everything; one that
  // cannot serve it may answer short (rclone: 206 with nothing).
  if (req.range && r.body.size() != length)
    throw Error(ErrorCode::kCorrupt, object + " in " + shown_ + ": asked for " + std::to_string(length) +
                                         " bytes at " + std::to_string(offset) + ", got " +
                                         std::to_string(r.body.size()) + " (range past the end?)");
  return std::move(r.body);
}

}  // namespace lifeboat::backend
