// The checker: verifies a repository and says exactly what is damaged and
// what that damage affects.
//
// Structure check (always): every key file parses, the config opens, every
// index segment decodes, every pack the index names exists with the size the
// index implies, every pack's trailer agrees with the index, every snapshot
// decodes, and every tree and blob every snapshot references resolves
// (trees are loaded and decoded). Read-data (optional): every pack, or a
// deterministic share of them, is read whole, its SHA-256 compared with its
// name, and every blob decrypted, decompressed and re-hashed.
//
// Each problem names the object and the snapshots (and, for data blobs, the
// files) it affects.
//
// Attribution follows what a restore would do: a blob counts as lost when the
// pack the index locates it in is missing or fails verification (a second,
// intact copy elsewhere that the index does not point to does not save it
// until the index is repaired). Blobs that snapshots need but only packs no
// index lists hold are an "index" problem (repair index recovers them), not a
// data loss.
//
// Order of listing (law 2): snapshots, then index segments, then packs, so a
// backup running concurrently never makes a consistent repository look
// damaged (its new packs show up at worst as unreferenced).
//
// Memory: one entry per pack and per blob the index lists (the listings the
// trailers are compared with), one id per distinct tree and data blob
// referenced by snapshots, and one whole pack per read-data worker. Nothing
// grows with the amount of data.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace lifeboat::check {

struct CheckOptions {
  bool read_data = false;
  // Read-data subset "n/m": check packs whose bucket (first byte of the pack
  // id, mod m) equals n-1; 0/0 = all when read_data is set.
  uint32_t subset_n = 0;
  uint32_t subset_m = 0;
  size_t threads = 4;  // concurrent object reads (0 = one per hardware thread)
  // Packs read so far by read-data; called from worker threads, one call at
  // a time, first with done = 0.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct Problem {
  std::string kind;     // "pack", "index", "snapshot", "tree", "blob", "key", "config"
  std::string object;   // the object's name or id
  std::string message;  // what is wrong
  // What it affects: snapshot ids (full hex) and, where known, paths inside
  // them ("<snapshot short id>:<path>"). Paths start at the snapshot root
  // "/" ("/public_html/index.php"); a path ending in '/' is a directory whose
  // tree blob the problem concerns (if the tree is lost, so is everything
  // below it). Both lists are sorted.
  std::vector<std::string> snapshots;
  std::vector<std::string> files;
  // Blob ids (hex) inside `object` that fail verification (read-data), or
  // that snapshots need from a pack no index lists. Sorted.
  std::vector<std::string> blobs;
  // The accounts of `snapshots`, "<node>/<account>" (sorted; filled at the
  // end of the check).
  std::vector<std::string> accounts = {};
  // Every byte the snapshots need is still readable (the index is wrong or
  // incomplete, and readers fall back to the packs' trailers): the
  // snapshots and accounts listed rely on that fallback but lose nothing,
  // so they do not count as affected.
  bool restorable = false;
};

struct CheckReport {
  uint64_t snapshots = 0;      // snapshots that decode
  uint64_t trees = 0;
  uint64_t blobs = 0;          // distinct blobs referenced by snapshots
  uint64_t packs = 0;          // packs the index lists
  uint64_t packs_read = 0;     // packs verified byte for byte
  uint64_t bytes_read = 0;
  uint64_t unreferenced_packs = 0;  // packs no index lists (left by an interrupted backup): not an error
  std::vector<Problem> problems;       // sorted by kind, then object
  // What the problems leave intact: snapshots that no problem affects, and
  // accounts ("<node>/<account>") with and without an affected snapshot.
  std::vector<std::string> unaffected_snapshots;
  std::vector<std::string> affected_accounts;
  std::vector<std::string> unaffected_accounts;
  // Inside each affected snapshot, how much is damaged and how much is not:
  // every file not among `damaged_paths` restores intact (a damaged
  // directory path, ending in '/', stands for all it held).
  struct SnapshotDamage {
    std::string snapshot;  // full id
    std::string account;   // "<node>/<account>"
    uint64_t files = 0;    // files in the snapshot (its summary)
    uint64_t damaged_files = 0;  // damaged paths that are files
    uint64_t damaged_dirs = 0;   // damaged paths that are whole directories
  };
  std::vector<SnapshotDamage> affected_snapshots;  // by id
  std::vector<std::string> warnings;  // sorted
  bool ok() const { return problems.empty(); }
};

// Runs the check. Expects repo.load_index() to have been called; packs listed
// by segments the repository's index lacks (written since) are added to it.
// Throws Error(kInvalidArgument) for a bad subset, and lets through errors
// that stop the whole check (a listing that fails); damage to any single
// object is a Problem, never an exception.
CheckReport run_check(repo::Repository& repo, const CheckOptions& options);

}  // namespace lifeboat::check
