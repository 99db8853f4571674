// The HTTP half every HTTP backend shares (REST, S3): a bounded pool of
// libcurl handles kept between requests so connections are reused, timeouts,
// and retries with exponential backoff and full jitter for transient
// failures. The backends above it map their protocol onto requests and
// statuses onto the error codes of backend.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/retry.h"
#include "base/bytes.h"

namespace lifeboat::backend {

struct HttpOptions : RetryOptions {
  size_t max_connections = 8;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds stall_timeout{60};  // no byte moved for this long: give up the attempt
};

struct HttpRequest {
  const char* method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string path;            // appended to the client's base URL: "/keys/<name>", "/?uploads"
  ByteView body;               // PUT, POST
  std::optional<std::pair<uint64_t, uint64_t>> range;  // GET: first, last (inclusive)
  std::vector<std::string> headers;                      // "Name: value"
};

struct HttpResponse {
  long status = 0;
  Bytes body;
  std::optional<uint64_t> content_length;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  // Attempts this response took: above 1, an earlier attempt may have
  // reached the server although its answer was lost.
  int attempts = 1;

  // The value of a response header (name in lower case), or "".
  std::string header(std::string_view name) const;
  // The start of the body, for messages (servers explain errors there).
  std::string detail() const;
};

class HttpClient {
 public:
  // `base` is scheme://host[:port][/path] without credentials; `shown` is how
  // messages name the location (never with a password).
  HttpClient(std::string base, std::string shown, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void set_basic_auth(std::string user, std::string password);
  // AWS Signature V4 by libcurl: provider "aws:amz:<region>:s3". Requests
  // carry their own x-amz-content-sha256 header (libcurl signs what it is
  // given; S3 servers require it).
  void set_aws_sigv4(std::string provider, std::string key_id, std::string secret);
  // Besides 429 and 5xx (but 507): statuses the protocol says to retry
  // (S3: 400 RequestTimeout, a body that failed its checksum on the way).
  // When every attempt met one of these, perform() returns the last
  // response for the backend to explain (it knows what the status means).
  void set_retryable(std::function<bool(const HttpResponse&)> retryable);

  const std::string& base() const { return base_; }
  const std::string& shown() const { return shown_; }

  // One exchange with retries for transient failures. Returns the last
  // response (any status); throws kUnavailable when every attempt failed in
  // transport or with a retryable status, kIo for a permanent transport
  // failure (a TLS certificate that does not verify, say).
  HttpResponse perform(const HttpRequest& request);

  // Backend::load over HTTP: GET `request` (a ranged GET unless the whole
  // object is asked for) and check that the bytes asked for came. `size`
  // is asked only for an open-ended range; `fail` throws the backend's
  // error for an unexpected status. `object` names the object in messages.
  Bytes load(HttpRequest request, const std::string& object, uint64_t offset, uint64_t length,
             const std::function<std::optional<uint64_t>()>& size,
             const std::function<void(const HttpRequest&, const HttpResponse&)>& fail);

 private:
  struct Handle;      // a CURL easy handle and the socket of its connection
  Handle* acquire();  // waits for a free slot
  void release(Handle* handle);
  bool retryable(const HttpResponse& r) const;

  std::string base_, shown_;
  HttpOptions options_;
  std::string user_, password_;        // basic auth, or the SigV4 key id and secret
  std::string sigv4_provider_;         // empty: basic auth (if a user is set)
  std::function<bool(const HttpResponse&)> extra_retryable_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Handle*> idle_;  // kept for their connections
  size_t in_use_ = 0;
};

}  // namespace lifeboat::backend
