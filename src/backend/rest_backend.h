// A repository behind restic's REST protocol v2 (rest-server, `rclone serve
// restic`, `lifeboat serve`), over HTTP(S) with libcurl.
//
// URL: rest:http(s)://[user[:password]@]host[:port]/path. The password may
// instead come from LIFEBOAT_REST_PASSWORD; it is never part of location().
//
// Objects: /config, /keys/<name>, /data/<name>, /index/<name>,
// /snapshots/<name>, /locks/<name>; listing GET /<type>/ with the v2 Accept
// header; create POST /?create=true.
//
// The contract of backend.h over HTTP:
// - create-only: a save first asks whether the name exists (HEAD); where
//   two writers race for one name, a server in append-only mode refuses the
//   second write (403) and only then is it told apart from a lost response
//   to our own earlier attempt: an object already there with the same size
//   counts as saved (objects are content-addressed, and a retried POST whose
//   first answer was lost must not fail). Locks are deleted, then written.
// - absent or complete: the servers write to a temporary file and rename.
// - transient failures (connection refused/reset, timeouts, 5xx, 429) are
//   retried with exponential backoff and jitter, then thrown as kUnavailable
//   naming the location; 401/403 are kPermission, 404 kNotFound.
// - bounded: at most `max_connections` requests at once (the caller's
//   threads wait for a slot); connections are kept alive and reused.
#pragma once

#include <optional>
#include <string>

#include "backend/backend.h"
#include "backend/http_client.h"

namespace lifeboat::backend {

class RestBackend : public Backend {
 public:
  // `url` without the "rest:" prefix. Throws kInvalidArgument for a URL that
  // is not http(s)://host[:port][/path].
  explicit RestBackend(const std::string& url, HttpOptions options = {});

  std::string location() const override { return http_->shown(); }
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;

 private:
  std::string path_of(const Handle& h) const;  // "/keys/<name>"
  // Throws the error for an unexpected status, naming `object` if given.
  [[noreturn]] void fail(const HttpRequest& request, const HttpResponse& r,
                         const std::string& object = {}) const;

  std::unique_ptr<HttpClient> http_;
};

}  // namespace lifeboat::backend
