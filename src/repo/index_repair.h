// `lifeboat repair index`: rebuilds the index from the packs' trailers (law
// 3: the packs are the truth). Reads only packs that no readable index
// segment lists (all of them with `full`), and writes a segment for every
// 64 packs as it goes, so a run killed at any moment has made its progress
// durable and the next run reads only what is left. It only adds segments:
// nothing it does can lose data, and it needs no lock (backups and restores
// may run meanwhile; a pack a backup is writing right now is listed by that
// backup's own segment).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace lifeboat::repo {

struct IndexRepairOptions {
  bool full = false;   // read every pack, listed or not
  size_t threads = 8;  // trailers read at once
  // Packs read so far; called from one thread at a time, first with done = 0.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct IndexRepairResult {
  size_t packs = 0;         // packs in the repository
  size_t packs_listed = 0;  // listed by a readable segment before the repair
  size_t packs_read = 0;    // trailers read and indexed
  size_t blobs = 0;         // blobs in the packs read
  size_t segments_written = 0;
  std::vector<std::string> segments_skipped;  // unreadable segments (left in place)
  std::vector<std::string> unreadable;        // packs whose trailer could not be read
};

// Loads the index itself (the repository must not have loaded it yet, so
// the damaged segments can be reported). Throws only for what stops it all
// (a listing or a segment write that fails).
IndexRepairResult repair_index(Repository& repo, const IndexRepairOptions& options);

}  // namespace lifeboat::repo
