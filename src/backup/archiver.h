// The archiver: turns one directory tree into a snapshot.
//
// Pipeline: a parallel walk (directories listed and stat'ed on a pool of I/O
// threads, many files open at once, because on a hosting node the cost is per
// file, not per byte) -> read -> chunk -> hash -> dedup -> compress+encrypt
// -> pack -> upload (repo::Repository). Trees are built bottom-up as soon as
// a directory's children are done. Files the parent snapshot proves
// unchanged (same size, mtime, ctime, inode) are not read at all.
//
// Files that vanish, cannot be read or change while being read never stop
// the backup: they are reported through on_error, recorded in the snapshot
// (error_paths, damaged entries), and the result says partial.
//
// Streamed entries: a backup can also hold files that are not on disk (a
// database dump read from a pipe), in one synthesized directory. Each is
// chunked and stored as it arrives, through the same path as file content,
// so memory stays bounded and nothing is written to local disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/byte_stream.h"
#include "repo/repository.h"
#include "repo/snapshot.h"

namespace lifeboat::backup {

// Live counters, readable from any thread while the backup runs.
struct BackupProgress {
  std::atomic<uint64_t> files_seen{0};   // found so far (by the scanner if count_totals)
  std::atomic<uint64_t> bytes_seen{0};   // their sizes
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};   // content bytes handled (read or proven unchanged)
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> walk_finished{false};  // files_seen/bytes_seen are final
};

// A file that is not on disk: its content is a stream, opened when the
// backup gets to it.
struct StreamedFile {
  std::string name;  // entry name: not empty, no '/' or NUL, not "." or ".."
  // Starts the stream (runs the dump command). Throws Error if it cannot.
  std::function<std::unique_ptr<ByteStream>()> open;
};

// A directory that is not on disk, at `path` inside the snapshot, holding
// streamed files. Every component of `path` is synthesized: mode 0700,
// owner and group of the backed-up root, times = when the streams start.
// Its files get mode 0600, the same owner, and the time their stream
// started. If the root really has an entry named like the first component,
// the synthesized one takes its place (reported through on_warning): the
// name is reserved for this directory.
//
// The streams are read one after another on one I/O thread, beside the
// walk. A stream is always read in full (there is no "unchanged" for it);
// identical content deduplicates chunk by chunk like any file's.
//
// A stream that cannot be opened or read, or whose finish() throws, is an
// error of that file (on_error, error_paths, the snapshot is partial); what
// was read of it is stored and the file marked damaged.
struct StreamedDir {
  std::string path;                 // e.g. ".lifeboat/databases"; no leading '/'
  std::vector<StreamedFile> files;  // names unique
  // Trouble found while preparing the files (listing them failed, a name
  // unusable): each message is an error of the directory, which is then
  // marked damaged (it lacks what it should hold).
  std::vector<std::string> errors;
};

// What became of one streamed file, in the order of StreamedDir::files.
struct StreamedOutcome {
  std::string name;
  uint64_t bytes = 0;  // content stored (all of it, or what was read before it failed)
  std::string error;   // empty if the stream was read in full and finished
};

struct BackupOptions {
  std::string account;
  std::string node;
  std::vector<std::string> tags;
  // Glob patterns (fnmatch) matched against the path relative to the root
  // ("sub/dir/file") and against the base name; matches are skipped.
  std::vector<std::string> excludes;
  // Previous snapshot of the same account: unchanged files are taken from it.
  std::optional<repo::Snapshot> parent;
  std::optional<Id> parent_id;
  size_t io_threads = 8;       // files and directories in flight
  bool force_reread = false;   // ignore the parent for change detection
  bool with_atime = false;     // record access times (otherwise atime := mtime)
  // Count the files and bytes to back up on a separate scanner thread (a
  // cheap stat-only walk), so progress has totals and an ETA early. Only
  // worth it when someone watches the progress.
  bool count_totals = false;
  std::function<void(const std::string& path, const std::string& message)> on_error;
  // Noteworthy but not an error (the snapshot is not partial because of it).
  std::function<void(const std::string& path, const std::string& message)> on_warning;
  std::optional<StreamedDir> streamed;
  BackupProgress* progress = nullptr;
  // For tests only: called with (path, "before_open") and (path, "after_read")
  // around every file read, to simulate files that vanish or change.
  std::function<void(const std::string& path, const char* stage)> test_hook;
  // Injected for deterministic tests; defaults to the wall clock.
  std::function<UnixNanos()> clock;
  // The snapshot's time (`backup --time`: importing history, tests of
  // retention); unset: when the backup started.
  std::optional<UnixNanos> snapshot_time;
};

struct BackupResult {
  Id snapshot_id;
  repo::Snapshot snapshot;
  bool partial = false;
  std::vector<StreamedOutcome> streamed;  // one per StreamedDir::files entry
};

// Backs up the directory `root` and saves a snapshot. Throws Error only for
// failures that make the whole backup impossible (root unreadable,
// repository write failure); per-entry trouble is reported and tolerated.
BackupResult run_backup(repo::Repository& repo, const std::string& root,
                        const BackupOptions& options);

}  // namespace lifeboat::backup
