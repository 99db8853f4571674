// What every command of the lifeboat binary shares: global options, the one
// way to print errors, warnings and results, passwords, opening a repository,
// and finding things inside snapshots.
//
// Output rules (docs/CLI.md "Output"):
// - results go to stdout: human text, or exactly one JSON document with --json;
// - errors are ONE line on stderr, "lifeboat: <message>"; warnings are
//   "lifeboat: warning: <message>" lines on stderr, in --json mode as well;
// - byte strings (file names are not necessarily UTF-8) are escaped for
//   humans with printable() and for JSON with json_bytes().
//
// Thread safety: print_warning() and the status line (progress.h) may be
// called from any thread; they share one lock on stderr.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/id.h"
#include "crypto/kdf.h"
#include "repo/keys.h"
#include "repo/repository.h"
#include "repo/snapshot.h"
#include "repo/tree.h"

namespace lifeboat::cli {

inline constexpr const char* kVersion = "0.1.0";

using Json = nlohmann::ordered_json;

struct GlobalOptions {
  // --repo (repeatable: only `plan` takes several), or LIFEBOAT_REPOSITORY.
  std::vector<std::string> repos;
  std::string password_file;  // --password-file
  // --repo-password-file, repeatable: the i-th is the password of the i-th
  // --repo (restore and node restore); "" or missing = the password above.
  std::vector<std::string> repo_password_files;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
};

// ---- output ----

// "lifeboat: <message>" on stderr, as one line (control characters escaped).
void print_error(std::string_view message);
// "lifeboat: warning: <message>" on stderr, as one line.
void print_warning(std::string_view message);
// With --verbose (and not --json): one line of detail on stdout.
void print_verbose(const GlobalOptions& g, std::string_view line);
// Writes text to stdout as is.
void print_out(std::string_view text);
// Writes one JSON document and a newline to stdout. Never throws on strings
// that are not UTF-8 (they are replaced), but callers pass byte strings
// through json_bytes() so nothing is lost.
void print_json(const Json& j);
// A message squeezed onto one line: control characters escaped as \xNN.
std::string one_line(std::string_view message);

// The status line on stderr (used by progress.cc). Drawing and clearing take
// the stderr lock, so warnings never interleave with a half-drawn line.
void draw_status_line(const std::string& line);
void clear_status_line();

// ---- formatting ----

bool is_valid_utf8(std::string_view s);
// For humans: non-printable bytes, invalid UTF-8 and backslash escaped (\xNN, \\).
std::string printable(std::string_view bytes);
// For JSON: the string if it is valid UTF-8 (and does not start with "hex:"),
// otherwise "hex:" followed by the bytes in hex — the convention of the
// snapshot format, so nothing is lost.
Json json_bytes(const std::string& bytes);
std::string format_bytes(uint64_t bytes);       // "1.50 MiB"
std::string format_seconds(double seconds);     // "12.3 s", "4m05s", "1h02m"
std::string format_local_time(UnixNanos t);     // "2024-05-01 12:34:56"
// A time given on the command line: RFC 3339 ("2026-11-25T21:00:00Z") or
// local time "YYYY-MM-DD[ HH:MM[:SS]]". Throws Error(kInvalidArgument)
// naming `flag`.
UnixNanos parse_time_flag(const std::string& text, const char* flag = "--at");
double seconds_between(UnixNanos from, UnixNanos to);
const char* node_type_name(repo::NodeType type);  // "file", "dir", ...
// "1 entry", "3 entries".
std::string count_of(uint64_t n, std::string_view singular, std::string_view plural);

// ---- passwords and keys ----

// The password of the repository, from (in this order) --password-file,
// LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND, LIFEBOAT_PASSWORD, or a
// prompt on the terminal (asked twice when `confirm`). Throws
// Error(kInvalidArgument) saying what to set when there is no source.
std::string get_password(const GlobalOptions& g, bool confirm);
// The same order for another repository of one command (`copy --to`, `init
// --copy-params-from`): the file flag, then <env_prefix>_PASSWORD_FILE,
// <env_prefix>_PASSWORD_COMMAND, <env_prefix>_PASSWORD, then a prompt.
struct PasswordSource {
  std::string file;                      // the flag's value, "" if not given
  std::string flag = "--password-file";  // named in messages
  std::string env_prefix = "LIFEBOAT";
  std::string what;  // for the prompt and messages ("the destination password"); "" = default
};
std::string get_password_from(const PasswordSource& source, bool confirm);
// The first line of `path` (given with `option`, named in errors); not empty.
std::string password_from_file(const std::string& path, const std::string& option);
// A new password for `key add` / `key passwd`: from `file`, or asked twice
// on the terminal.
std::string get_new_password(const std::string& file);
// Key derivation settings for new key files: the defaults, or the cheap test
// settings when LIFEBOAT_TEST_FAST_KDF=1 (test-only).
crypto::KdfParams kdf_params_for_new_keys();
bool fast_kdf_requested();
repo::KeyFileInfo new_key_info(const std::string& label);
std::string local_hostname();

// ---- repository ----

// The location from --repo or LIFEBOAT_REPOSITORY; throws kInvalidArgument if
// neither, or if --repo was given more than once.
std::string repository_location(const GlobalOptions& g);
// Every --repo given (or LIFEBOAT_REPOSITORY); throws kInvalidArgument if none.
std::vector<std::string> repository_locations(const GlobalOptions& g);
// Opens the repository (asking for the password only once the location is
// known to hold one). Library warnings become "lifeboat: warning:" lines.
// `password_out`, if given, receives the password that opened it.
// `for_backup`: the command stores new data, so a damaged config stops it
// (one error line, no warning before it).
std::unique_ptr<repo::Repository> open_repository(const GlobalOptions& g, bool load_index,
                                                  std::string* password_out = nullptr,
                                                  bool for_backup = false);
// The same for a given location, with the password from `password()`
// (called only once the location holds a repository). With
// `allow_missing_config`, a location with key files but no config counts as
// a repository (`repair config`).
std::unique_ptr<repo::Repository> open_repository_at(const GlobalOptions& g,
                                                     const std::string& location, bool load_index,
                                                     const std::function<std::string()>& password,
                                                     std::string* password_out = nullptr,
                                                     bool allow_missing_config = false,
                                                     bool for_backup = false);

// ---- snapshots ----

// The root content tree of a snapshot: the subtree of the "." node of its
// top tree. Throws kCorrupt naming the snapshot if there is none.
Id snapshot_root_tree(const repo::Repository& repo, const Id& snapshot_id,
                      const repo::Snapshot& snapshot);
// The node at `path` inside a snapshot ("" or "/" = the root directory, whose
// node is the "." entry of the top tree). Throws kNotFound naming the path
// and the snapshot.
repo::Node find_snapshot_node(const repo::Repository& repo, const Id& snapshot_id,
                              const repo::Snapshot& snapshot, const std::string& path);
// "a//b/./c/" -> {"a", "b", "c"}.
std::vector<std::string> split_path(std::string_view path);
// {"a","b"} -> "/a/b"; {} -> "/".
std::string join_path(const std::vector<std::string>& parts);

// ---- interruption ----

// Blocks SIGINT/SIGTERM in every thread and handles them on one thread of
// our own: the status line is cleared, the terminal restored, an
// "interrupted" line printed and the process exits 130. Library code never
// exits; it is simply stopped. Call first thing in main, before any thread
// starts.
void install_signal_handling();
// Instead of exiting, the first SIGINT/SIGTERM calls `hook` (on the signal
// thread) so a long-running command can stop cleanly; a second one exits.
void set_stop_hook(std::function<void()> hook);
// The process's last word: the signal thread's "interrupted" line or main's
// error line, never both (^C reaches a password command too, which then
// fails with an interruption in main while the signal thread reports the
// signal). True for the first caller; a later caller prints nothing.
bool claim_last_word();

}  // namespace lifeboat::cli
