// `lifeboat serve`: a repository server speaking restic's REST protocol v2
// (so lifeboat's rest: backend, restic and rclone clients can use it), for
// offsite hosts that keep many nodes' backups out of those nodes' reach.
//
// Every request authenticates (HTTP basic) as one credential
// (serve/credentials.h) and may only touch that credential's repository
// path under the served root. Append credentials create and read and never
// delete or overwrite (a compromised node cannot destroy its backups); only
// admin credentials delete (prune). Uploads (all but the config and locks)
// are checked against their name (the SHA-256 of the content) before they
// are stored. Storage is
// LocalBackend: temporary file, fsync, link into place.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "serve/credentials.h"

namespace lifeboat::serve {

struct ServeOptions {
  std::string root;             // repositories live at root/<credential path>
  std::string host = "127.0.0.1";
  int port = 8000;              // 0: any free port (see bound_port)
  std::string tls_cert, tls_key;  // both or neither; without them only loopback is served
  // One line per request: time, client, credential, method, path, status, bytes.
  std::function<void(const std::string&)> log;
};

class RestServer {
 public:
  // Throws Error(kInvalidArgument) for plain HTTP on a non-loopback address
  // or unusable TLS files, kIo when the address cannot be bound.
  RestServer(ServeOptions options, Credentials credentials);
  ~RestServer();
  int bound_port() const;
  // Serves until stop() (from any thread or a signal handler's thread).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lifeboat::serve
