#include "backend/sftp_backend.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <exception>
#include <random>
#include <type_traits>

namespace lifeboat::backend {

namespace {

// OpenSSH's sftp-server drops the connection for a message over 256 KiB and
// itself offers 256 KiB - 1 KiB as the largest write (limits@openssh.com),
// which leaves room for the header. libssh 0.10 sends each sftp_write as one
// message and waits for its answer, so fewer, larger writes are faster.
constexpr size_t kWriteChunk = 255 * 1024;
// Reads are pipelined: kReadAhead requests of kReadChunk bytes in flight.
constexpr uint32_t kReadChunk = 64 * 1024;
constexpr size_t kReadAhead = 32;
constexpr mode_t kFileMode = 0600;  // as the local backend
constexpr mode_t kDirMode = 0700;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A failure of the connection itself (lost, refused, timed out, stalled):
// the operation is retried on a new connection.
struct Transport {
  std::string what;
};

// libssh's message, on one line.
std::string one_line(const char* message) {
  std::string s = message && *message ? message : "unknown error";
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

[[noreturn]] void bad_url(const std::string& url, const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument,
              "SFTP repository URL 'sftp:" + url + "' " + why +
                  "; write sftp:[user@]host:[port]/path (sftp:backup@10.0.0.5:/srv/repo, "
                  "sftp:backup@10.0.0.5:2222/srv/repo) or sftp://[user@]host[:port]/path");
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int parse_port(const std::string& url, std::string_view digits) {
  if (!all_digits(digits) || digits.size() > 5) bad_url(url, "has a bad port");
  const int port = std::stoi(std::string(digits));
  if (port < 1 || port > 65535) bad_url(url, "has a port outside 1-65535");
  return port;
}

std::string random_hex() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* digits = "0123456789abcdef";
  uint64_t v = rng();
  std::string s(16, '0');
  for (char& c : s) {
    c = digits[v & 15];
    v >>= 4;
  }
  return s;
}

struct FileCloser {
  void operator()(sftp_file f) const { sftp_close(f); }
};
using File = std::unique_ptr<sftp_file_struct, FileCloser>;

struct DirCloser {
  void operator()(sftp_dir d) const { sftp_closedir(d); }
};
using Dir = std::unique_ptr<sftp_dir_struct, DirCloser>;

struct AttributesFree {
  void operator()(sftp_attributes a) const { sftp_attributes_free(a); }
};
using Attributes = std::unique_ptr<sftp_attributes_struct, AttributesFree>;

// A string libssh allocated (ssh_options_get).
std::string option(ssh_session ssh, enum ssh_options_e what) {
  char* value = nullptr;
  if (ssh_options_get(ssh, what, &value) != SSH_OK || !value) return {};
  std::string s = value;
  ssh_string_free_char(value);
  return s;
}

}  // namespace

struct SftpBackend::Conn {
  ssh_session ssh = nullptr;
  sftp_session sftp = nullptr;
  std::atomic<int> fd{-1};              // the socket, once connected (for the watchdog)
  std::atomic<int64_t> busy_since{0};   // steady ms of the last progress while in use; 0: idle
  std::atomic<bool> stalled{false};     // the watchdog shut the socket down
  int64_t stall_seconds = 0;
  bool fsync = false;    // the server offers fsync@openssh.com
  bool broken = false;   // do not reuse (lost, or left with requests in flight)

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    // A broken connection may have a peer that no longer reads: shut the
    // socket first so the goodbye messages below cannot block.
    if (broken && fd >= 0) ::shutdown(fd, SHUT_RDWR);
    if (sftp) sftp_free(sftp);
    if (ssh) {
      ssh_disconnect(ssh);
      ssh_free(ssh);
    }
  }

  void tick() { busy_since = now_ms(); }

  // After a libssh call on this connection failed: throws Transport if the
  // connection is no longer usable, else returns the server's SFTP status
  // for the request (SSH_FX_*).
  int server_status() {
    if (stalled) throw Transport{"no answer for " + std::to_string(stall_seconds) + " s"};
    if (!ssh_is_connected(ssh) || ssh_get_error_code(ssh) == SSH_FATAL) {
      broken = true;
      throw Transport{one_line(ssh_get_error(ssh))};
    }
    return sftp_get_error(sftp);
  }
};

namespace {

using Conn = SftpBackend::Conn;

// Throws the error for a failed request with SFTP status `status`.
[[noreturn]] void fail_status(Conn& c, int status, const std::string& op, const std::string& object,
                              const std::string& shown) {
  switch (status) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
      throw Error(ErrorCode::kNotFound, object + ": not found in " + shown + " (" + op + ")");
    case SSH_FX_PERMISSION_DENIED:
    case SSH_FX_WRITE_PROTECT:
      throw Error(ErrorCode::kPermission,
                  op + " " + object + " in " + shown +
                      ": permission denied by the server; check the owner and mode of the "
                      "repository directory there");
    default:
      throw Error(ErrorCode::kIo, op + " " + object + " in " + shown + ": " +
                                      one_line(ssh_get_error(c.ssh)));
  }
}

[[noreturn]] void fail(Conn& c, const std::string& op, const std::string& object,
                       const std::string& shown) {
  fail_status(c, c.server_status(), op, object, shown);
}

bool is_missing(int status) { return status == SSH_FX_NO_SUCH_FILE || status == SSH_FX_NO_SUCH_PATH; }

// Size of the file at `path`, or nullopt if there is none.
std::optional<uint64_t> stat_size(Conn& c, const std::string& path, const std::string& object,
                                  const std::string& shown) {
  Attributes a(sftp_stat(c.sftp, path.c_str()));
  c.tick();
  if (a) return a->size;
  const int status = c.server_status();
  if (is_missing(status)) return std::nullopt;
  fail_status(c, status, "stat", object, shown);
}

// Removes `path` if it is there; failures are ignored (a leftover
// temporary file is harmless: listings skip it).
void unlink_quiet(Conn& c, const std::string& path) {
  if (sftp_unlink(c.sftp, path.c_str()) != 0) (void)c.server_status();
  c.tick();
}

// Creates the directory unless it exists.
void mkdir_quiet(Conn& c, const std::string& path, const std::string& shown) {
  if (sftp_mkdir(c.sftp, path.c_str(), kDirMode) == 0) return c.tick();
  const int status = c.server_status();
  // SFTP v3 reports an existing directory as a plain failure.
  if (status == SSH_FX_FILE_ALREADY_EXISTS || status == SSH_FX_FAILURE) {
    Attributes a(sftp_stat(c.sftp, path.c_str()));
    if (a && a->type == SSH_FILEXFER_TYPE_DIRECTORY) return c.tick();
    if (!a) (void)c.server_status();
  }
  fail_status(c, status, "mkdir", path, shown);
}

// Calls fn(name, attributes) for every entry of the directory not starting
// with '.'; a missing directory has none.
template <typename Fn>
void read_dir(Conn& c, const std::string& path, const std::string& shown, Fn&& fn) {
  Dir dir(sftp_opendir(c.sftp, path.c_str()));
  c.tick();
  if (!dir) {
    const int status = c.server_status();
    if (is_missing(status)) return;
    fail_status(c, status, "list", path, shown);
  }
  while (Attributes a{sftp_readdir(c.sftp, dir.get())}) {
    c.tick();
    if (a->name && a->name[0] != '.') fn(std::string_view(a->name), *a);
  }
  if (!sftp_dir_eof(dir.get())) fail(c, "list", path, shown);
}

}  // namespace

struct SftpBackend::SaveAttempt {
  bool tried = false;  // an earlier attempt failed in transport
  std::string temp;    // its temporary file, if it may be left
};

SftpBackend::SftpBackend(const std::string& url, SftpOptions options) : options_(std::move(options)) {
  ssh_init();
  std::string_view rest = url;
  const bool uri = rest.starts_with("//");
  if (uri) rest.remove_prefix(2);
  if (const auto at = rest.find('@'); at != std::string_view::npos && at < rest.find('/')) {
    user_ = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (user_.empty()) bad_url(url, "has an empty user name");
    if (user_.find(':') != std::string::npos)
      bad_url(url, "has a password; SFTP repositories authenticate with keys only");
  }
  if (rest.starts_with('[')) {  // an IPv6 address
    const auto close = rest.find(']');
    if (close == std::string_view::npos) bad_url(url, "has an unclosed '['");
    host_ = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
  } else {
    const auto end = rest.find_first_of(uri ? ":/" : ":");
    host_ = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  if (host_.empty()) bad_url(url, "has no host");
  if (uri) {
    if (rest.starts_with(':')) {
      const auto slash = rest.find('/');
      port_ = parse_port(url, rest.substr(1, slash == std::string_view::npos ? rest.npos : slash - 1));
      rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash);
    }
    // "/~/path" (as curl writes it) is relative to the login directory.
    if (rest == "/~" || rest.starts_with("/~/")) {
      rest.remove_prefix(std::min<size_t>(rest.size(), 3));
    } else {
      while (rest.starts_with("//")) rest.remove_prefix(1);  // restic writes //srv/repo
    }
  } else {
    if (!rest.starts_with(':')) bad_url(url, "has no ':' between the host and the path");
    rest.remove_prefix(1);
    // Digits followed by '/' are a port.
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && all_digits(rest.substr(0, slash))) {
      port_ = parse_port(url, rest.substr(0, slash));
      rest.remove_prefix(slash);
    }
  }
  path_ = rest;
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  const std::string host_shown = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  const std::string user_shown = user_.empty() ? "" : user_ + "@";
  if (port_ != 0 && !path_.starts_with('/')) {
    shown_ = "sftp://" + user_shown + host_shown + ":" + std::to_string(port_) + "/~" +
             (path_.empty() ? "" : "/" + path_);
  } else {
    shown_ = "sftp:" + user_shown + host_shown + ":" + (port_ ? std::to_string(port_) : "") + path_;
  }
  if (options_.identity_file.empty())
    if (const char* v = std::getenv("LIFEBOAT_SFTP_IDENTITY")) options_.identity_file = v;
  if (options_.known_hosts_file.empty())
    if (const char* v = std::getenv("LIFEBOAT_SFTP_KNOWN_HOSTS")) options_.known_hosts_file = v;
  identity_ = options_.identity_file;
  known_hosts_ = options_.known_hosts_file;
}

SftpBackend::~SftpBackend() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  idle_.clear();
  conns_.clear();
}

std::string SftpBackend::remote(const std::string& relative) const {
  if (relative.empty()) return path_.empty() ? "." : path_;
  if (path_.empty()) return relative;
  return path_ == "/" ? "/" + relative : path_ + "/" + relative;
}

// ---- connections ----

void SftpBackend::open(Conn& c) {
  c.stall_seconds = options_.stall_timeout.count();
  c.ssh = ssh_new();
  if (!c.ssh) throw Error(ErrorCode::kInternal, "libssh could not make a session");
  ssh_options_set(c.ssh, SSH_OPTIONS_HOST, host_.c_str());
  // The user's ~/.ssh/config and /etc/ssh/ssh_config (Host aliases,
  // HostName, Port, User, IdentityFile), as ssh reads them; what the URL
  // and the environment say is set after, so it wins.
  ssh_options_parse_config(c.ssh, nullptr);
  if (!user_.empty()) ssh_options_set(c.ssh, SSH_OPTIONS_USER, user_.c_str());
  if (port_ != 0) ssh_options_set(c.ssh, SSH_OPTIONS_PORT, &port_);
  if (!known_hosts_.empty()) {
    ssh_options_set(c.ssh, SSH_OPTIONS_KNOWNHOSTS, known_hosts_.c_str());
    ssh_options_set(c.ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, known_hosts_.c_str());
  }
  // Without TCP_NODELAY the tail of each SFTP message waits for the peer's
  // delayed ACK (40 ms): one round trip per write becomes 40 ms each.
  int nodelay = 1;
  ssh_options_set(c.ssh, SSH_OPTIONS_NODELAY, &nodelay);
  long timeout = options_.connect_timeout.count();
  ssh_options_set(c.ssh, SSH_OPTIONS_TIMEOUT, &timeout);
  if (ssh_connect(c.ssh) != SSH_OK) {
    c.broken = true;
    throw Transport{one_line(ssh_get_error(c.ssh))};
  }
  c.fd = ssh_get_fd(c.ssh);
  c.tick();
  verify_host_key(c);
  authenticate(c);
  // From here on libssh's timeout bounds each wait for the server (a full
  // channel window too); the watchdog bounds a request's whole answer.
  timeout = options_.stall_timeout.count();
  ssh_options_set(c.ssh, SSH_OPTIONS_TIMEOUT, &timeout);
  c.sftp = sftp_new(c.ssh);
  if (!c.sftp) {
    c.broken = true;
    throw Transport{"no SFTP channel: " + one_line(ssh_get_error(c.ssh))};
  }
  if (sftp_init(c.sftp) != SSH_OK) {
    if (!ssh_is_connected(c.ssh) || c.stalled) {
      c.broken = true;
      throw Transport{one_line(ssh_get_error(c.ssh))};
    }
    throw Error(ErrorCode::kIo, shown_ + ": the server offers no SFTP (" + one_line(ssh_get_error(c.ssh)) +
                                    "); is sshd's 'Subsystem sftp' configured?");
  }
  c.fsync = sftp_extension_supported(c.sftp, "fsync@openssh.com", "1") != 0;
  c.tick();
}

std::string SftpBackend::user_at_host(Conn& c) const {
  unsigned int port = 22;
  ssh_options_get_port(c.ssh, &port);
  return option(c.ssh, SSH_OPTIONS_USER) + "@" + option(c.ssh, SSH_OPTIONS_HOST) + ":" +
         std::to_string(port);
}

void SftpBackend::verify_host_key(Conn& c) {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(c.ssh, &key) != SSH_OK) throw Transport{one_line(ssh_get_error(c.ssh))};
  std::string fingerprint = ssh_key_type_to_char(ssh_key_type(key));
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) == SSH_OK) {
    if (char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len)) {
      fingerprint += std::string(" ") + fp;
      ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
  }
  ssh_key_free(key);
  const enum ssh_known_hosts_e state = ssh_session_is_known_server(c.ssh);
  if (state == SSH_KNOWN_HOSTS_OK) return;
  unsigned int port = 22;
  ssh_options_get_port(c.ssh, &port);
  const std::string host = option(c.ssh, SSH_OPTIONS_HOST);
  const std::string file = known_hosts_.empty() ? "~/.ssh/known_hosts" : known_hosts_;
  const std::string keyscan = "ssh-keyscan " + (port == 22 ? "" : "-p " + std::to_string(port) + " ") +
                              host + " >> " + file;
  const std::string entry = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  switch (state) {
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      throw Error(ErrorCode::kPermission,
                  shown_ + ": the host key of " + entry + " is not the one in " + file + " (the server now shows " +
                      fingerprint + "); refusing to connect: someone may be intercepting the connection; if the "
                      "server was reinstalled, confirm that fingerprint with its administrator, then run "
                      "ssh-keygen -R '" + entry + "' -f " + file + " and " + keyscan);
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      throw Error(ErrorCode::kPermission,
                  shown_ + ": the host key of " + entry + " is not in " + file + " (the server shows " + fingerprint +
                      "); confirm that fingerprint with the server's administrator, then run " + keyscan);
    default:
      throw Error(ErrorCode::kIo, shown_ + ": cannot check the host key against " + file + ": " +
                                      one_line(ssh_get_error(c.ssh)));
  }
}

void SftpBackend::authenticate(Conn& c) {
  int rc;
  if (!identity_.empty()) {
    // A named key is the only one tried (as ssh -i with IdentitiesOnly).
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(identity_.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK)
      throw Error(ErrorCode::kPermission,
                  "cannot read the SSH key " + identity_ +
                      " (LIFEBOAT_SFTP_IDENTITY): missing, unreadable, or protected by a passphrase "
                      "(load such a key into ssh-agent instead)");
    rc = ssh_userauth_publickey(c.ssh, nullptr, key);
    ssh_key_free(key);
  } else {
    rc = ssh_userauth_publickey_auto(c.ssh, nullptr, nullptr);
  }
  c.tick();
  if (rc == SSH_AUTH_SUCCESS) return;
  if (rc == SSH_AUTH_ERROR || rc == SSH_AUTH_AGAIN || c.stalled) {
    c.broken = true;
    throw Transport{one_line(ssh_get_error(c.ssh))};
  }
  const std::string tried = identity_.empty()
                                ? "keys (ssh-agent, ~/.ssh/id_*, IdentityFile in ~/.ssh/config)"
                                : "key " + identity_;
  throw Error(ErrorCode::kPermission,
              shown_ + ": " + user_at_host(c) + " refused the " + tried +
                  "; add the public key to that user's ~/.ssh/authorized_keys on the server, or name "
                  "the right key file in LIFEBOAT_SFTP_IDENTITY");
}

SftpBackend::Conn& SftpBackend::acquire() {
  Conn* c = nullptr;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_use_ < std::max<size_t>(1, options_.max_connections); });
    ++in_use_;
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
      c->tick();
      return *c;
    }
    if (!watchdog_.joinable()) watchdog_ = std::thread([this] { watch(); });
    conns_.push_back(std::make_unique<Conn>());
    c = conns_.back().get();
    c->tick();
  }
  try {
    open(*c);
  } catch (...) {
    release(*c, false);
    throw;
  }
  return *c;
}

void SftpBackend::release(Conn& c, bool keep) {
  std::unique_ptr<Conn> gone;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    c.busy_since = 0;
    --in_use_;
    if (keep && !c.broken && !c.stalled) {
      idle_.push_back(&c);
    } else {
      auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& p) { return p.get() == &c; });
      gone = std::move(*it);
      conns_.erase(it);
    }
  }
  cv_.notify_one();
}

// libssh waits for an SFTP answer without a deadline of its own. A request
// that gets no answer for stall_timeout (a peer that vanished without a
// reset, a stuck server) has its socket shut down from here, which makes
// the waiting call fail, and the operation is retried on a new connection.
void SftpBackend::watch() {
  const auto period = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.stall_timeout) / 4,
      std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  const int64_t limit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.stall_timeout).count();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, period);
    const int64_t now = now_ms();
    for (const auto& c : conns_) {
      const int64_t since = c->busy_since;
      const int fd = c->fd;
      if (since != 0 && fd >= 0 && now - since > limit_ms && !c->stalled.exchange(true))
        ::shutdown(fd, SHUT_RDWR);
    }
  }
}

template <typename Op>
auto SftpBackend::run(const std::string& what, Op&& op) {
  Backoff backoff(options_);
  for (int attempt = 1;; ++attempt) {
    std::string error;
    try {
      Conn& c = acquire();
      struct Release {
        SftpBackend* self;
        Conn& c;
        bool keep = false;
        ~Release() { self->release(c, keep); }
      } guard{this, c};
      try {
        if constexpr (std::is_void_v<decltype(op(c))>) {
          op(c);
          guard.keep = true;
          return;
        } else {
          auto result = op(c);
          guard.keep = true;
          return result;
        }
      } catch (const Error&) {
        guard.keep = true;  // a refusal by the server: the connection is fine (unless marked broken)
        throw;
      }
    } catch (const Transport& t) {
      error = t.what;
    }
    if (attempt >= options_.attempts)
      throw Error(ErrorCode::kUnavailable,
                  "cannot reach " + shown_ + " (" + what + ": " + error + ", " + std::to_string(attempt) +
                      " attempts); check that the server is up, the URL is right and ssh can log in there");
    backoff.wait();
  }
}

// ---- operations ----

void SftpBackend::create() {
  run("create", [&](Conn& c) {
    if (stat_size(c, remote("config"), "config", shown_))
      throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " + shown_);
    // mkdir -p of the repository directory, then its object directories.
    // The 256 data shards are made when first written to (one round trip
    // each then, instead of 256 here).
    for (size_t i = 1; i <= path_.size(); ++i) {
      if ((i == path_.size() || path_[i] == '/') && path_.substr(0, i) != "/")
        mkdir_quiet(c, path_.substr(0, i), shown_);
    }
    for (ObjectType t : {ObjectType::kKey, ObjectType::kData, ObjectType::kIndex, ObjectType::kSnapshot,
                         ObjectType::kLock}) {
      mkdir_quiet(c, remote(object_type_dir(t)), shown_);
    }
  });
}

void SftpBackend::make_parent_dirs(Conn& c, const std::string& relative) {
  for (size_t i = relative.find('/'); i != std::string::npos; i = relative.find('/', i + 1)) {
    const std::string dir = remote(relative.substr(0, i));
    if (sftp_mkdir(c.sftp, dir.c_str(), kDirMode) == 0) {
      c.tick();
      continue;
    }
    const int status = c.server_status();
    if (is_missing(status))
      throw Error(ErrorCode::kNotFound, "no repository at " + shown_ + " (its directory does not exist)");
    mkdir_quiet(c, dir, shown_);  // exists already, or says why not
  }
}

void SftpBackend::save(const Handle& h, ByteView data) {
  const std::string object = h.describe();  // validates the name
  if (h.type == ObjectType::kLock) remove(h);
  SaveAttempt attempt;
  run("save " + object, [&](Conn& c) { save_once(c, h, data, attempt); });
}

void SftpBackend::save_once(Conn& c, const Handle& h, ByteView data, SaveAttempt& attempt) {
  const std::string relative = h.path();
  const std::string object = h.describe();
  const std::string final_path = remote(relative);
  if (attempt.tried) {
    // An earlier attempt lost its connection: its temporary file may be
    // left, and its rename may have happened with the answer lost. A file
    // of our size under the name is ours (names are content hashes).
    if (!attempt.temp.empty()) unlink_quiet(c, attempt.temp);
    attempt.temp.clear();
    if (auto existing = stat_size(c, final_path, object, shown_)) {
      if (*existing == data.size()) return;
      throw Error(ErrorCode::kAlreadyExists, object + " already exists in " + shown_);
    }
  }
  attempt.tried = true;
  const auto slash = relative.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : relative.substr(0, slash + 1);
  attempt.temp = remote(dir + "." + relative.substr(slash + 1) + ".tmp-" + random_hex());
  write_file(c, attempt.temp, relative, data);
  // SFTP v3 RENAME never replaces: OpenSSH's sftp-server does link() then
  // unlink() for a regular file (stat() then rename() where the file system
  // has no hard links), so an existing target fails the rename. That makes
  // the rename the atomic create-only step: of two writers racing for one
  // name exactly one wins, and a reader sees the complete file or none.
  if (sftp_rename(c.sftp, attempt.temp.c_str(), final_path.c_str()) == 0) {
    attempt.temp.clear();
    c.tick();
    return;
  }
  const int status = c.server_status();  // a transport failure keeps `attempt` for the retry
  unlink_quiet(c, attempt.temp);
  attempt.temp.clear();
  if (stat_size(c, final_path, object, shown_))
    throw Error(ErrorCode::kAlreadyExists, object + " already exists in " + shown_);
  fail_status(c, status, "rename", object, shown_);
}

void SftpBackend::write_file(Conn& c, const std::string& path, const std::string& relative, ByteView data) {
  const int flags = O_WRONLY | O_CREAT | O_EXCL;
  File f(sftp_open(c.sftp, path.c_str(), flags, kFileMode));
  c.tick();
  if (!f) {
    const int status = c.server_status();
    if (!is_missing(status)) fail_status(c, status, "create", path, shown_);
    make_parent_dirs(c, relative);  // a data shard written to for the first time
    f.reset(sftp_open(c.sftp, path.c_str(), flags, kFileMode));
    c.tick();
    if (!f) fail(c, "create", path, shown_);
  }
  for (size_t off = 0; off < data.size(); off += kWriteChunk) {
    const size_t n = std::min(kWriteChunk, data.size() - off);
    if (sftp_write(f.get(), data.data() + off, n) != static_cast<ssize_t>(n)) {
      const int status = c.server_status();
      f.reset();
      fail_write(c, status, path, data.size());
    }
    c.tick();
  }
  if (c.fsync && sftp_fsync(f.get()) != 0) {
    const int status = c.server_status();
    f.reset();
    fail_write(c, status, path, data.size());
  }
  c.tick();
  // The close answers for the last writes on some file systems (NFS, quotas).
  if (sftp_close(f.release()) != 0) fail_write(c, c.server_status(), path, data.size());
  c.tick();
}

// SFTP v3 reports a full disk (and an exceeded quota) as a plain "Failure";
// where the server offers statvfs@openssh.com its free space tells.
void SftpBackend::fail_write(Conn& c, int status, const std::string& temp, uint64_t size) {
  unlink_quiet(c, temp);
  if (status == SSH_FX_FAILURE && sftp_extension_supported(c.sftp, "statvfs@openssh.com", "2")) {
    const std::string dir = temp.substr(0, temp.rfind('/') + 1) + ".";
    if (sftp_statvfs_t vfs = sftp_statvfs(c.sftp, dir.c_str())) {
      const uint64_t free_bytes = vfs->f_bavail * vfs->f_frsize;
      sftp_statvfs_free(vfs);
      if (free_bytes < size + (1 << 20))
        throw Error(ErrorCode::kNoSpace, "the server's disk is full at " + shown_ + " (" +
                                             std::to_string(free_bytes) + " bytes free, " +
                                             std::to_string(size) + " to write)");
    } else {
      (void)c.server_status();
    }
  }
  fail_status(c, status, "write", temp, shown_);
}

Bytes SftpBackend::load(const Handle& h, uint64_t offset, uint64_t length) {
  const std::string object = h.describe();
  if (length > 0 && offset > UINT64_MAX - length)
    throw Error(ErrorCode::kCorrupt, object + ": range past the end in " + shown_);
  return run("load " + object, [&](Conn& c) { return load_once(c, h, offset, length); });
}

Bytes SftpBackend::load_once(Conn& c, const Handle& h, uint64_t offset, uint64_t length) {
  const std::string object = h.describe();
  File f(sftp_open(c.sftp, remote(h.path()).c_str(), O_RDONLY, 0));
  c.tick();
  if (!f) fail(c, "load", object, shown_);
  Attributes a(sftp_fstat(f.get()));
  c.tick();
  if (!a) fail(c, "stat", object, shown_);
  const uint64_t total = a->size;
  if (offset > total || (length > 0 && offset + length > total))
    throw Error(ErrorCode::kCorrupt, object + " in " + shown_ + ": range " + std::to_string(offset) + "+" +
                                         std::to_string(length) + " past the end (" + std::to_string(total) +
                                         " bytes)");
  if (length == 0) length = total - offset;
  Bytes out(length);
  // Pipelined: keep kReadAhead requests in flight instead of paying one
  // round trip per chunk. A short answer (a server's own read limit) asks
  // again for the rest.
  struct Request {
    uint64_t at;  // into `out`
    uint32_t len;
    int id;
  };
  std::deque<Request> pending;
  uint64_t next = 0;
  auto request = [&](uint64_t at, uint32_t len, bool front) {
    sftp_seek64(f.get(), offset + at);
    const int id = sftp_async_read_begin(f.get(), len);
    if (id < 0) {
      c.broken = true;  // answers to earlier requests are still on their way
      fail(c, "load", object, shown_);
    }
    if (front) pending.push_front({at, len, id});
    else pending.push_back({at, len, id});
  };
  while (next < length || !pending.empty()) {
    while (pending.size() < kReadAhead && next < length) {
      const uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(kReadChunk, length - next));
      request(next, len, false);
      next += len;
    }
    const Request r = pending.front();
    pending.pop_front();
    const int got = sftp_async_read(f.get(), out.data() + r.at, r.len, r.id);
    c.tick();
    if (got < 0 || got == 0) {
      c.broken = true;
      if (got < 0) fail(c, "load", object, shown_);
      throw Error(ErrorCode::kCorrupt, object + " in " + shown_ + ": ended at " +
                                           std::to_string(offset + r.at) + " bytes while being read");
    }
    if (static_cast<uint32_t>(got) < r.len) request(r.at + got, r.len - got, true);
  }
  return out;
}

std::optional<uint64_t> SftpBackend::size(const Handle& h) {
  const std::string object = h.describe();
  return run("stat " + object, [&](Conn& c) { return stat_size(c, remote(h.path()), object, shown_); });
}

void SftpBackend::remove(const Handle& h) {
  const std::string object = h.describe();
  run("remove " + object, [&](Conn& c) {
    if (sftp_unlink(c.sftp, remote(h.path()).c_str()) == 0) return c.tick();
    const int status = c.server_status();
    if (!is_missing(status)) fail_status(c, status, "remove", object, shown_);
  });
}

void SftpBackend::list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) {
  if (type == ObjectType::kConfig) {
    if (auto s = size({ObjectType::kConfig, "config"})) fn("config", *s);
    return;
  }
  using Items = std::vector<std::pair<std::string, uint64_t>>;
  const std::string dir = object_type_dir(type);
  auto files_in = [&](const std::string& relative) {
    Items items;
    run("list " + relative + "/", [&](Conn& c) {
      items.clear();
      read_dir(c, remote(relative), shown_, [&](std::string_view name, const sftp_attributes_struct& a) {
        if (a.type == SSH_FILEXFER_TYPE_REGULAR) items.emplace_back(name, a.size);
      });
    });
    return items;
  };
  Items all;
  if (type != ObjectType::kData) {
    all = files_in(dir);
  } else {
    std::vector<std::string> shards;
    run("list data/", [&](Conn& c) {
      shards.clear();
      read_dir(c, remote(dir), shown_, [&](std::string_view name, const sftp_attributes_struct& a) {
        if (name.size() == 2 && a.type == SSH_FILEXFER_TYPE_DIRECTORY) shards.emplace_back(name);
      });
    });
    // The shards are listed over every pooled connection at once: over a
    // wide-area link 256 listings one after another cost minutes.
    std::vector<Items> per_shard(shards.size());
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mu;
    auto worker = [&] {
      for (size_t i; (i = next.fetch_add(1)) < shards.size();) {
        try {
          per_shard[i] = files_in(dir + "/" + shards[i]);
        } catch (...) {
          std::lock_guard lock(error_mu);
          if (!error) error = std::current_exception();
          next = shards.size();
        }
      }
    };
    std::vector<std::thread> workers;
    const size_t n = std::min(shards.size(), std::max<size_t>(1, options_.max_connections));
    for (size_t i = 1; i < n; ++i) workers.emplace_back(worker);
    worker();
    for (auto& w : workers) w.join();
    if (error) std::rethrow_exception(error);
    for (auto& items : per_shard) std::move(items.begin(), items.end(), std::back_inserter(all));
  }
  // The callback may use the backend (the listing is complete first).
  for (const auto& [name, sz] : all) fn(name, sz);
}

}  // namespace lifeboat::backend
