#include "cli/common.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "backend/backend.h"
#include "base/error.h"
#include "base/hex.h"
#include "base/shell_command.h"

namespace lifeboat::cli {

// ---------------------------------------------------------------- output

namespace {

std::mutex g_stderr_mu;
std::atomic<bool> g_status_visible{false};

// Saved terminal settings while a password is read without echo, so an
// interrupt can put the terminal back.
std::atomic<bool> g_tty_saved{false};
struct termios g_saved_termios;

void write_fd(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr/stdout
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes a full line on stderr, first wiping the status line if one is shown
// (the next redraw brings it back below).
void stderr_line(std::string_view line) {
  std::lock_guard lock(g_stderr_mu);
  std::string text;
  if (g_status_visible.exchange(false)) text = "\r\x1b[K";
  text += line;
  text += '\n';
  write_fd(2, text);
}

}  // namespace

std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

void print_error(std::string_view message) { stderr_line("lifeboat: " + one_line(message)); }

void print_warning(std::string_view message) {
  stderr_line("lifeboat: warning: " + one_line(message));
}

void print_verbose(const GlobalOptions& g, std::string_view line) {
  if (!g.verbose || g.json) return;
  print_out(one_line(line));
  print_out("\n");
}

void print_out(std::string_view text) {
  if (g_status_visible.load()) {
    // A status line on the terminal: clear it first so the text starts on
    // a line of its own (the next redraw puts the status line back).
    std::lock_guard lock(g_stderr_mu);
    if (g_status_visible.exchange(false)) write_fd(2, "\r\x1b[K");
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void print_json(const Json& j) {
  print_out(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  print_out("\n");
  std::fflush(stdout);
}

void draw_status_line(const std::string& line) {
  std::lock_guard lock(g_stderr_mu);
  write_fd(2, "\r" + line + "\x1b[K");
  g_status_visible = true;
}

void clear_status_line() {
  std::lock_guard lock(g_stderr_mu);
  if (g_status_visible.exchange(false)) write_fd(2, "\r\x1b[K");
}

// ---------------------------------------------------------------- formatting

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A multi-byte sequence passes through only if it is valid UTF-8.
    size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n != 0 && i + n <= bytes.size() && is_valid_utf8(bytes.substr(i, n))) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

Json json_bytes(const std::string& bytes) {
  if (is_valid_utf8(bytes) && bytes.rfind("hex:", 0) != 0) return bytes;
  return "hex:" + to_hex(as_bytes(bytes));
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.2f} {}", v, kUnits[u]);
}

std::string format_seconds(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string format_local_time(UnixNanos t) {
  time_t secs = static_cast<time_t>(t / 1000000000);
  if (t < 0 && t % 1000000000 != 0) --secs;
  struct tm tm;
  if (localtime_r(&secs, &tm) == nullptr) return format_rfc3339(t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

double seconds_between(UnixNanos from, UnixNanos to) {
  return static_cast<double>(to - from) / 1e9;
}

std::string count_of(uint64_t n, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

const char* node_type_name(repo::NodeType type) {
  switch (type) {
    case repo::NodeType::kFile: return "file";
    case repo::NodeType::kDir: return "dir";
    case repo::NodeType::kSymlink: return "symlink";
    case repo::NodeType::kBlockDevice: return "blockdev";
    case repo::NodeType::kCharDevice: return "chardev";
    case repo::NodeType::kFifo: return "fifo";
    case repo::NodeType::kSocket: return "socket";
  }
  return "unknown";
}

// ---------------------------------------------------------------- passwords

namespace {

// The first line of `text`, without its line ending.
std::string first_line(std::string_view text) {
  size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return std::string(line);
}

std::string read_password_file(const std::string& path, const std::string& source) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ErrorCode code = err == EACCES || err == EPERM ? ErrorCode::kPermission
                                                   : ErrorCode::kInvalidArgument;
    throw Error(code, fmt::format("cannot read the password file {} ({}): {}", path, source,
                                  std::strerror(err)));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw Error(ErrorCode::kIo, fmt::format("cannot read the password file {} ({}): {}", path,
                                              source, std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.find('\n') != std::string::npos || text.size() > (1 << 20)) break;
  }
  ::close(fd);
  return first_line(text);
}

// Runs `command` with /bin/sh -c and returns the first line of its stdout.
// It shares our terminal (a password manager may prompt on it).
std::string run_password_command(const std::string& command, const std::string& variable,
                                 const std::string& file_flag) {
  std::string out;
  int status;
  try {
    ShellCommand child(command, variable, ShellCommand::Mode::kInteractive);
    out = child.read_to_end(1 << 20);
    status = child.wait();
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.message());
  }
  // ^C on a terminal reaches the command too (one process group): it may
  // die of it before lifeboat's own handler runs. That is an interruption,
  // not a broken command.
  if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGTERM))
    throw Error(ErrorCode::kInterrupted, "interrupted");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} '{}' failed ({}); fix it or use {}", variable, command,
                            ShellCommand::describe_status(status), file_flag));
  return first_line(out);
}

// Reads one line from the terminal on stdin without echo.
std::string prompt_hidden(const std::string& prompt) {
  {
    std::lock_guard lock(g_stderr_mu);
    write_fd(2, prompt);
  }
  struct termios old_tio;
  bool have_tio = ::tcgetattr(STDIN_FILENO, &old_tio) == 0;
  if (have_tio) {
    g_saved_termios = old_tio;
    g_tty_saved = true;
    struct termios tio = old_tio;
    tio.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tio.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio);
  }
  std::string line;
  bool eof = false;
  for (;;) {
    char c;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
      break;
    }
    if (c == '\n') break;
    line += c;
  }
  if (have_tio) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_tio);
    g_tty_saved = false;
  }
  if (eof && line.empty())
    throw Error(ErrorCode::kInvalidArgument, "no password entered (end of input)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string prompt_password(const std::string& what, bool confirm) {
  std::string pw = prompt_hidden("enter " + what + ": ");
  if (confirm && prompt_hidden("enter " + what + " again: ") != pw)
    throw Error(ErrorCode::kInvalidArgument, "the two passwords do not match; nothing was changed");
  return pw;
}

std::string checked(std::string password, const std::string& source) {
  if (password.empty())
    throw Error(ErrorCode::kInvalidArgument,
                "the password from " + source + " is empty; an empty password is not allowed");
  return password;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

std::string get_password_from(const PasswordSource& src, bool confirm) {
  const std::string file_var = src.env_prefix + "_PASSWORD_FILE";
  const std::string command_var = src.env_prefix + "_PASSWORD_COMMAND";
  const std::string plain_var = src.env_prefix + "_PASSWORD";
  if (!src.file.empty())
    return checked(read_password_file(src.file, src.flag), src.flag + " " + src.file);
  if (const char* f = env(file_var.c_str()))
    return checked(read_password_file(f, file_var), file_var + " " + f);
  if (const char* c = env(command_var.c_str()))
    return checked(run_password_command(c, command_var, src.flag), command_var);
  if (const char* p = std::getenv(plain_var.c_str())) return checked(p, plain_var);
  if (::isatty(STDIN_FILENO)) {
    std::string what = !src.what.empty() ? src.what
                       : confirm         ? "a password for the new repository"
                                         : "the repository password";
    return checked(prompt_password(what, confirm), "the terminal");
  }
  throw Error(ErrorCode::kInvalidArgument,
              fmt::format("no password given{}: use {} FILE or set {}, {} or {} (or run on a "
                          "terminal to be asked)",
                          src.what.empty() ? "" : " for " + src.what, src.flag, file_var,
                          command_var, plain_var));
}

std::string get_password(const GlobalOptions& g, bool confirm) {
  PasswordSource source;
  source.file = g.password_file;
  return get_password_from(source, confirm);
}

std::string password_from_file(const std::string& path, const std::string& option) {
  return checked(read_password_file(path, option), option + " " + path);
}

std::string get_new_password(const std::string& file) {
  if (!file.empty())
    return checked(read_password_file(file, "--new-password-file"),
                   "--new-password-file " + file);
  if (::isatty(STDIN_FILENO))
    return checked(prompt_password("the new password", true), "the terminal");
  throw Error(ErrorCode::kInvalidArgument,
              "no new password given: use --new-password-file FILE (or run on a terminal to be "
              "asked)");
}

bool fast_kdf_requested() {
  const char* v = std::getenv("LIFEBOAT_TEST_FAST_KDF");
  return v != nullptr && std::string_view(v) == "1";
}

crypto::KdfParams kdf_params_for_new_keys() {
  return fast_kdf_requested() ? crypto::KdfParams::for_tests() : crypto::KdfParams{};
}

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

repo::KeyFileInfo new_key_info(const std::string& label) {
  repo::KeyFileInfo info;
  info.hostname = local_hostname();
  if (struct passwd* pw = ::getpwuid(::geteuid())) info.username = pw->pw_name;
  info.label = label;
  info.created = now_unix_nanos();
  return info;
}

// ---------------------------------------------------------------- repository

std::vector<std::string> repository_locations(const GlobalOptions& g) {
  // An empty --repo counts as not given, as it always has.
  std::vector<std::string> given;
  for (const auto& r : g.repos)
    if (!r.empty()) given.push_back(r);
  if (!given.empty()) return given;
  if (const char* r = env("LIFEBOAT_REPOSITORY")) return {r};
  throw Error(ErrorCode::kInvalidArgument,
              "no repository given: use --repo LOCATION or set LIFEBOAT_REPOSITORY");
}

std::string repository_location(const GlobalOptions& g) {
  std::vector<std::string> all = repository_locations(g);
  if (all.size() > 1)
    throw Error(ErrorCode::kInvalidArgument,
                "--repo was given " + std::to_string(all.size()) +
                    " times; this command works on one repository (only 'plan', 'restore' "
                    "and 'node restore' take several)");
  return all[0];
}

namespace {

// Warnings raised while opening are held back: if the open fails, its error
// already says what matters (e.g. "every key file ... is damaged") and the
// details follow only with --verbose.
struct OpenWarnings {
  std::mutex mu;
  bool holding = true;
  std::vector<std::string> held;
};

}  // namespace

std::unique_ptr<repo::Repository> open_repository(const GlobalOptions& g, bool load_index,
                                                  std::string* password_out, bool for_backup) {
  return open_repository_at(g, repository_location(g), load_index,
                            [&g] { return get_password(g, false); }, password_out, false,
                            for_backup);
}

std::unique_ptr<repo::Repository> open_repository_at(const GlobalOptions& g,
                                                     const std::string& location, bool load_index,
                                                     const std::function<std::string()>& get,
                                                     std::string* password_out,
                                                     bool allow_missing_config, bool for_backup) {
  std::shared_ptr<backend::Backend> backend = backend::open_backend(location);
  const std::string loc = backend->location();
  bool has_keys = false;
  if (allow_missing_config)
    backend->list(backend::ObjectType::kKey, [&](std::string_view, uint64_t) { has_keys = true; });
  if (!has_keys && !backend->size({backend::ObjectType::kConfig, "config"}))
    throw Error(ErrorCode::kNotARepository,
                "no lifeboat repository at " + loc +
                    " (no config object); check --repo, or create one with 'lifeboat init'");
  std::string password = get();

  auto warnings = std::make_shared<OpenWarnings>();
  repo::RepositoryOptions options;
  options.allow_missing_config = allow_missing_config;
  options.warn = [warnings](const std::string& message) {
    {
      std::lock_guard lock(warnings->mu);
      if (warnings->holding) {
        warnings->held.push_back(message);
        return;
      }
    }
    print_warning(message);
  };
  std::unique_ptr<repo::Repository> repo;
  try {
    repo = repo::Repository::open(backend, password, options);
  } catch (const Error& e) {
    if (g.verbose)
      for (const auto& w : warnings->held) print_warning(w);
    if (e.message().find(loc) == std::string::npos)
      throw Error(e.code(), "repository " + loc + ": " + e.message());
    throw;
  }
  // A backup into a repository with a damaged config stops here with one
  // error line; the "reading with defaults" warning would only confuse.
  if (for_backup) repo->require_intact_config();
  {
    std::lock_guard lock(warnings->mu);
    warnings->holding = false;
    for (const auto& w : warnings->held) print_warning(w);
    warnings->held.clear();
  }
  if (load_index) repo->load_index();
  if (password_out != nullptr) *password_out = std::move(password);
  return repo;
}

// ---------------------------------------------------------------- snapshots

namespace {

const repo::Node* find_child(const repo::Tree& tree, const std::string& name) {
  for (const auto& n : tree.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

repo::Node top_node(const repo::Repository& repo, const Id& snapshot_id,
                    const repo::Snapshot& snapshot) {
  repo::Tree top = repo.load_tree(snapshot.tree);
  const repo::Node* dot = find_child(top, ".");
  if (dot == nullptr || dot->type != repo::NodeType::kDir)
    throw Error(ErrorCode::kCorrupt, "snapshot " + snapshot_id.short_hex() + ": its top tree " +
                                         snapshot.tree.hex() +
                                         " has no \".\" directory; run 'lifeboat check'");
  return *dot;
}

}  // namespace

Id snapshot_root_tree(const repo::Repository& repo, const Id& snapshot_id,
                      const repo::Snapshot& snapshot) {
  return top_node(repo, snapshot_id, snapshot).subtree;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    i = j + 1;
  }
  return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out;
}

repo::Node find_snapshot_node(const repo::Repository& repo, const Id& snapshot_id,
                              const repo::Snapshot& snapshot, const std::string& path) {
  repo::Node node = top_node(repo, snapshot_id, snapshot);
  std::vector<std::string> parts = split_path(path);
  std::vector<std::string> walked;
  for (const auto& part : parts) {
    if (part == "..")
      throw Error(ErrorCode::kInvalidArgument,
                  "path '" + printable(path) + "' must not contain '..'");
    walked.push_back(part);
    const repo::Node* child = nullptr;
    repo::Tree tree;
    if (node.type == repo::NodeType::kDir) {
      tree = repo.load_tree(node.subtree);
      child = find_child(tree, part);
    }
    if (child == nullptr) {
      std::string full = join_path(parts);
      std::string where = join_path(walked) == full
                              ? ""
                              : " (" + printable(join_path(walked)) + " does not exist)";
      throw Error(ErrorCode::kNotFound,
                  "no " + printable(full) + " in snapshot " + snapshot_id.short_hex() + where +
                      "; 'lifeboat ls " + snapshot_id.short_hex() + "' lists what it holds");
    }
    node = *child;
  }
  return node;
}

// ---------------------------------------------------------------- signals

namespace {

std::atomic<bool> g_last_word_claimed{false};

[[noreturn]] void on_signal(int sig) {
  ShellCommand::kill_all();  // no database dump keeps running after us
  if (g_last_word_claimed.exchange(true)) {
    // main is printing its error and returning; it ends the process.
    for (;;) ::pause();
  }
  if (g_status_visible) write_fd(2, "\r\x1b[K");
  if (g_tty_saved) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
    write_fd(2, "\n");
  }
  std::string msg = fmt::format(
      "lifeboat: interrupted by {}; the command did not finish (a repository is left "
      "consistent: unfinished data is not referenced by any snapshot)\n",
      sig == SIGINT ? "SIGINT" : "SIGTERM");
  write_fd(2, msg);
  ::_exit(130);  // stdout's buffer is dropped: a half-written result is worth nothing
}

}  // namespace

namespace {
std::mutex g_stop_hook_mu;
std::function<void()> g_stop_hook;
}  // namespace

bool claim_last_word() { return !g_last_word_claimed.exchange(true); }

void set_stop_hook(std::function<void()> hook) {
  std::lock_guard lock(g_stop_hook_mu);
  g_stop_hook = std::move(hook);
}

void install_signal_handling() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      while (sigwait(&set, &sig) != 0) {
      }
      std::function<void()> hook;
      {
        std::lock_guard lock(g_stop_hook_mu);
        hook = std::exchange(g_stop_hook, nullptr);
      }
      if (!hook) on_signal(sig);
      hook();  // a clean stop; a second signal ends the process
    }
  }).detach();
}

UnixNanos parse_time_flag(const std::string& text, const char* flag) {
  try {
    return parse_rfc3339(text);
  } catch (const Error&) {
  }
  for (const char* format : {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    struct tm tm = {};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t != static_cast<time_t>(-1)) return static_cast<UnixNanos>(t) * 1000000000;
  }
  throw Error(ErrorCode::kInvalidArgument,
              std::string(flag) + " '" + text +
                  "' is not a time like 2026-11-25T21:00:00Z or '2026-11-25 22:00' (local)");
}

}  // namespace lifeboat::cli
