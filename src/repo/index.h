// The index: blob id -> where the blob lives. A cache of what pack trailers
// say (law 3), stored as index segments (index/<sha256>) and held in memory
// as one compact table.
//
// Memory: 48 bytes per blob in the main table (32-byte id, pack ordinal,
// offset, stored length, raw length with type and compression in the top
// bits), plus 64 bytes per pack; recent additions sit in a small overlay
// that is merged into the sorted table in batches. See FORMAT.md "Index".
//
// Thread-safe: lookups take a shared lock, additions an exclusive one.
#pragma once

#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/id.h"
#include "crypto/mac.h"
#include "repo/pack.h"

namespace lifeboat::repo {

struct BlobLocation {
  Id pack;
  PackSalt salt;
  PackEntry entry;
};

// One pack's worth of index information.
struct PackInfo {
  Id id;
  PackSalt salt{};
  std::vector<PackEntry> entries;
};

class Index {
 public:
  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds every blob of the pack. A blob already known keeps its first
  // location; a copy in another pack is kept as an alternate (rare: two
  // nodes storing the same blob at once), so a lost pack costs nothing a
  // copy elsewhere still holds.
  void add_pack(const PackInfo& pack);
  // Adds many packs at once (loading the index): one sort instead of
  // repeated merges, so loading n blobs costs O(n log n).
  void add_packs(const std::vector<PackInfo>& packs);

  std::optional<BlobLocation> find(const Id& blob) const;
  // The first location and every alternate.
  std::vector<BlobLocation> find_all(const Id& blob) const;
  bool contains(const Id& blob) const;

  // Forgets the packs (gone from the backend): their blobs move to an
  // alternate in another pack where there is one and are dropped otherwise.
  // Returns the number of blobs dropped.
  size_t remove_packs(const std::unordered_set<Id, IdHash>& gone);

  size_t blob_count() const;
  size_t pack_count() const;
  // The packs the index knows, by id.
  std::vector<Id> pack_ids() const;
  bool has_pack(const Id& pack) const;

  // Calls fn for every (blob, location). Holds the shared lock throughout.
  // With `alternates`, copies in other packs are visited too (every entry
  // of every pack the index knows).
  void for_each(const std::function<void(const BlobLocation&)>& fn, bool alternates = false) const;

  // Bytes of memory held per blob by the main table (for docs/tests).
  static constexpr size_t kBytesPerBlob = 48;

 private:
  struct Entry {
    Id id;
    uint32_t pack;
    uint32_t offset;
    uint32_t stored_length;
    uint32_t raw_and_flags;  // raw length (30 bits) | compression (bit 30) | tree (bit 31)
  };
  static_assert(sizeof(Entry) == kBytesPerBlob);

  const Entry* find_locked(const Id& blob) const;
  void merge_overlay_locked();
  void add_alternate_locked(const Entry& first, const Entry& copy);
  uint32_t pack_ordinal_locked(const PackInfo& pack);
  static Entry make_entry(const PackEntry& pe, uint32_t ordinal);
  BlobLocation location_of(const Entry& e) const;

  mutable std::shared_mutex mu_;
  std::vector<Entry> table_;    // sorted by id
  std::vector<Entry> overlay_;  // unsorted recent additions
  std::unordered_map<Id, uint32_t, IdHash> overlay_pos_;
  std::unordered_multimap<Id, Entry, IdHash> alternates_;  // copies in other packs
  std::vector<Id> packs_;
  std::vector<PackSalt> salts_;
  std::unordered_map<Id, uint32_t, IdHash> pack_pos_;
};

// Index segments: sealed objects listing packs and their blobs.
Bytes encode_index_segment(const crypto::Key32& encryption_key, const std::vector<PackInfo>& packs);
// Throws Error(kCorrupt) naming the segment.
std::vector<PackInfo> decode_index_segment(const crypto::Key32& encryption_key, ByteView sealed,
                                           const std::string& name);

}  // namespace lifeboat::repo
