// A repository on an SSH server, over SFTP with libssh (OpenSSH's sshd and
// its sftp-server or internal-sftp are the reference).
//
// URL (after "sftp:"): [user@]host:[port]/path, e.g. backup@10.0.0.5:/srv/repo
// or backup@10.0.0.5:2222/srv/repo (digits then '/' after the ':' are a
// port); a path that does not start with '/' is relative to the login
// directory. Also sftp://[user@]host[:port]/path, where /~/path is relative
// to the login directory. The user's ssh configuration is read, so Host
// aliases, Port, User and IdentityFile work as they do for ssh.
//
// Authentication by key only: ssh-agent and the default keys, or the key
// file named by LIFEBOAT_SFTP_IDENTITY (then that key alone). The server's
// host key must be in known_hosts (LIFEBOAT_SFTP_KNOWN_HOSTS names another
// file); an unknown or changed key is refused, never accepted on first use.
//
// The contract of backend.h over SFTP:
// - create-only: a save writes a hidden temporary file (".<name>.tmp-<random>")
//   beside the object, fsyncs it (fsync@openssh.com) and renames it to the
//   final name. SFTP v3's RENAME, as OpenSSH's sftp-server implements it for
//   regular files, is link() then unlink(): it refuses an existing target,
//   so two writers racing for one name cannot both win. A retried save whose
//   earlier rename happened (the answer was lost with the connection) counts
//   as saved when the object has our size (names are content hashes). Locks
//   are removed, then written.
// - absent or complete: only complete, fsynced files ever get a final name;
//   listings skip the temporary ('.') names.
// - transient failures (connection lost, refused, timed out, stalled) are
//   retried on a new connection with exponential backoff and jitter, then
//   thrown as kUnavailable naming the location; refused keys and host keys,
//   and permission denied on a path, are kPermission.
// - bounded: at most `max_connections` SSH connections (one SFTP session
//   each, used by one thread at a time; libssh sessions are not
//   thread-safe), opened when first needed and replaced when broken.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "backend/retry.h"

namespace lifeboat::backend {

struct SftpOptions : RetryOptions {
  size_t max_connections = 4;
  std::chrono::seconds connect_timeout{10};  // TCP connect, key exchange, authentication
  std::chrono::seconds stall_timeout{60};    // one request without an answer this long: reconnect
  std::string identity_file;     // empty: $LIFEBOAT_SFTP_IDENTITY, else ssh-agent and default keys
  std::string known_hosts_file;  // empty: $LIFEBOAT_SFTP_KNOWN_HOSTS, else ssh's own files
};

class SftpBackend : public Backend {
 public:
  // `url` without the "sftp:" prefix. Throws kInvalidArgument for a URL that
  // is not of one of the forms above. Connects only when first used.
  explicit SftpBackend(const std::string& url, SftpOptions options = {});
  ~SftpBackend() override;

  std::string location() const override { return shown_; }
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;

  struct Conn;  // one SSH connection with its SFTP session (sftp_backend.cc)

 private:
  struct SaveAttempt;
  // Runs op(conn) on a pooled connection; a transport failure drops the
  // connection and retries op on a new one, with backoff, up to
  // options_.attempts times, then throws kUnavailable. `what` names the
  // operation in that message ("save data/ab/ab12...").
  template <typename Op>
  auto run(const std::string& what, Op&& op);

  Conn& acquire();  // an idle connection, or a new one (waits for a free slot)
  void release(Conn& c, bool keep);
  void open(Conn& c);  // connect, check the host key, log in, start SFTP
  void verify_host_key(Conn& c);
  void authenticate(Conn& c);
  std::string user_at_host(Conn& c) const;  // as libssh resolved them
  void watch();  // the stall watchdog's loop

  std::string remote(const std::string& relative) const;  // path on the server
  void save_once(Conn& c, const Handle& h, ByteView data, SaveAttempt& attempt);
  void write_file(Conn& c, const std::string& path, const std::string& relative, ByteView data);
  [[noreturn]] void fail_write(Conn& c, int status, const std::string& temp, uint64_t size);
  void make_parent_dirs(Conn& c, const std::string& relative);
  Bytes load_once(Conn& c, const Handle& h, uint64_t offset, uint64_t length);

  std::string user_, host_, path_;  // path_: "" (login directory), "/abs" or "rel"
  int port_ = 0;                    // 0: from the ssh configuration, else 22
  std::string shown_;               // sftp:user@host:port/path
  std::string identity_, known_hosts_;
  SftpOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;        // a connection slot became free
  std::condition_variable watch_cv_;  // wakes the watchdog to stop
  std::vector<std::unique_ptr<Conn>> conns_;  // every connection, idle or in use
  std::vector<Conn*> idle_;
  size_t in_use_ = 0;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace lifeboat::backend
