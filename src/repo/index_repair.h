// `lifeboat repair index`: rebuilds the index from the packs' trailers (law
// 3: the packs are the truth). Reads only packs that no readable index
// segment lists (all of them with `full`), and writes a segment for every
// 64 packs as it goes, so a run killed at any moment has made its progress
// durable and the next run reads only what is left.
//
// Then it replaces what misleads readers: a segment that lists packs which
// are gone (or, with `full`, entries the pack's own trailer contradicts or
// lacks) is rewritten without them, and a segment that cannot be read at
// all is removed once its packs are indexed again. The replacement is
// durable before the old segment is removed, so nothing it does can lose
// data; it needs no lock (backups and restores may run meanwhile: a pack a
// backup is writing right now is listed by that backup's own segment, never
// by an old one). Where the backend refuses deletion (append-only), the old
// segments stay, reported; readers fall back past them anyway.
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
  std::vector<std::string> segments_skipped;  // unreadable segments (removed once covered)
  std::vector<std::string> unreadable;        // packs whose trailer could not be read
  std::vector<std::string> packs_gone;        // listed by a segment, absent from the backend
  std::vector<std::string> packs_mismatched;  // (full) segment entries the trailer contradicts
  std::vector<std::string> segments_replaced; // stale or damaged segments removed
  std::vector<std::string> segments_left;     // ... that the backend would not let go
};

// Loads the index itself (the repository must not have loaded it yet, so
// the damaged segments can be reported). Throws only for what stops it all
// (a listing or a segment write that fails).
IndexRepairResult repair_index(Repository& repo, const IndexRepairOptions& options);

}  // namespace lifeboat::repo
