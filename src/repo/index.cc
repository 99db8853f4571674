#include "repo/index.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/error.h"
#include "repo/sealed.h"

namespace lifeboat::repo {

namespace {
constexpr uint32_t kTreeBit = 1u << 31;
constexpr uint32_t kZstdBit = 1u << 30;
constexpr uint32_t kRawMask = kZstdBit - 1;
// Overlay entries are merged into the sorted table when there are this many.
constexpr size_t kOverlayLimit = 1u << 16;
}  // namespace

uint32_t Index::pack_ordinal_locked(const PackInfo& pack) {
  auto it = pack_pos_.find(pack.id);
  if (it != pack_pos_.end()) return it->second;
  uint32_t ordinal = static_cast<uint32_t>(packs_.size());
  packs_.push_back(pack.id);
  salts_.push_back(pack.salt);
  pack_pos_.emplace(pack.id, ordinal);
  return ordinal;
}

Index::Entry Index::make_entry(const PackEntry& pe, uint32_t ordinal) {
  if (pe.raw_length > kRawMask)
    throw Error(ErrorCode::kCorrupt, "blob " + pe.id.hex() + " is larger than 1 GiB");
  return Entry{pe.id, ordinal, pe.offset, pe.stored_length,
               pe.raw_length | (pe.compression == Compression::kZstd ? kZstdBit : 0) |
                   (pe.type == BlobType::kTree ? kTreeBit : 0)};
}

void Index::add_pack(const PackInfo& pack) {
  std::unique_lock lock(mu_);
  uint32_t ordinal = pack_ordinal_locked(pack);
  for (const auto& pe : pack.entries) {
    Entry e = make_entry(pe, ordinal);
    if (const Entry* first = find_locked(pe.id)) {
      add_alternate_locked(*first, e);
      continue;
    }
    overlay_pos_.emplace(e.id, static_cast<uint32_t>(overlay_.size()));
    overlay_.push_back(e);
  }
  if (overlay_.size() >= kOverlayLimit) merge_overlay_locked();
}

void Index::add_packs(const std::vector<PackInfo>& packs) {
  std::unique_lock lock(mu_);
  merge_overlay_locked();
  size_t total = table_.size();
  for (const auto& p : packs) total += p.entries.size();
  const size_t old_size = table_.size();
  table_.reserve(total);
  for (const auto& p : packs) {
    uint32_t ordinal = pack_ordinal_locked(p);
    for (const auto& pe : p.entries) table_.push_back(make_entry(pe, ordinal));
  }
  // Existing entries come first and stable_sort keeps that order among equal
  // ids, so a blob already known keeps its first location.
  std::stable_sort(table_.begin() + static_cast<ptrdiff_t>(old_size), table_.end(),
                   [](const Entry& a, const Entry& b) { return a.id < b.id; });
  std::inplace_merge(table_.begin(), table_.begin() + static_cast<ptrdiff_t>(old_size), table_.end(),
                     [](const Entry& a, const Entry& b) { return a.id < b.id; });
  // Keep the first of equal ids; later copies in other packs become alternates.
  auto out = table_.begin();
  for (auto it = table_.begin(); it != table_.end(); ++it) {
    if (out != table_.begin() && (out - 1)->id == it->id) {
      add_alternate_locked(*(out - 1), *it);
      continue;
    }
    *out++ = *it;
  }
  table_.erase(out, table_.end());
}

void Index::add_alternate_locked(const Entry& first, const Entry& copy) {
  if (copy.pack == first.pack) return;  // the same pack indexed twice
  auto [begin, end] = alternates_.equal_range(copy.id);
  for (auto it = begin; it != end; ++it)
    if (it->second.pack == copy.pack) return;
  alternates_.emplace(copy.id, copy);
}

size_t Index::remove_packs(const std::unordered_set<Id, IdHash>& gone) {
  std::unique_lock lock(mu_);
  merge_overlay_locked();
  std::vector<bool> dead(packs_.size(), false);
  bool any = false;
  for (const Id& p : gone)
    if (auto it = pack_pos_.find(p); it != pack_pos_.end()) {
      dead[it->second] = any = true;
      pack_pos_.erase(it);
    }
  if (!any) return 0;
  for (auto it = alternates_.begin(); it != alternates_.end();)
    it = dead[it->second.pack] ? alternates_.erase(it) : std::next(it);
  size_t dropped = 0;
  auto out = table_.begin();
  for (auto it = table_.begin(); it != table_.end(); ++it) {
    if (!dead[it->pack]) {
      *out++ = *it;
      continue;
    }
    auto alt = alternates_.find(it->id);
    if (alt == alternates_.end()) {
      ++dropped;
      continue;
    }
    *out++ = alt->second;  // same id: the table stays sorted
    alternates_.erase(alt);
  }
  table_.erase(out, table_.end());
  return dropped;
}

void Index::merge_overlay_locked() {
  if (overlay_.empty()) return;
  std::sort(overlay_.begin(), overlay_.end(), [](const Entry& a, const Entry& b) { return a.id < b.id; });
  std::vector<Entry> merged;
  merged.reserve(table_.size() + overlay_.size());
  std::merge(table_.begin(), table_.end(), overlay_.begin(), overlay_.end(),
             std::back_inserter(merged), [](const Entry& a, const Entry& b) { return a.id < b.id; });
  table_.swap(merged);
  overlay_.clear();
  overlay_.shrink_to_fit();
  overlay_pos_.clear();
}

const Index::Entry* Index::find_locked(const Id& blob) const {
  auto it = std::lower_bound(table_.begin(), table_.end(), blob,
                             [](const Entry& e, const Id& id) { return e.id < id; });
  if (it != table_.end() && it->id == blob) return &*it;
  auto o = overlay_pos_.find(blob);
  if (o != overlay_pos_.end()) return &overlay_[o->second];
  return nullptr;
}

BlobLocation Index::location_of(const Entry& e) const {
  BlobLocation loc;
  loc.pack = packs_[e.pack];
  loc.salt = salts_[e.pack];
  loc.entry.id = e.id;
  loc.entry.type = (e.raw_and_flags & kTreeBit) ? BlobType::kTree : BlobType::kData;
  loc.entry.compression = (e.raw_and_flags & kZstdBit) ? Compression::kZstd : Compression::kNone;
  loc.entry.offset = e.offset;
  loc.entry.stored_length = e.stored_length;
  loc.entry.raw_length = e.raw_and_flags & kRawMask;
  return loc;
}

std::optional<BlobLocation> Index::find(const Id& blob) const {
  std::shared_lock lock(mu_);
  const Entry* e = find_locked(blob);
  if (!e) return std::nullopt;
  return location_of(*e);
}

std::vector<BlobLocation> Index::find_all(const Id& blob) const {
  std::shared_lock lock(mu_);
  std::vector<BlobLocation> out;
  const Entry* e = find_locked(blob);
  if (!e) return out;
  out.push_back(location_of(*e));
  auto [begin, end] = alternates_.equal_range(blob);
  for (auto it = begin; it != end; ++it) out.push_back(location_of(it->second));
  return out;
}

bool Index::contains(const Id& blob) const {
  std::shared_lock lock(mu_);
  return find_locked(blob) != nullptr;
}

size_t Index::blob_count() const {
  std::shared_lock lock(mu_);
  return table_.size() + overlay_.size();
}

size_t Index::pack_count() const {
  std::shared_lock lock(mu_);
  return pack_pos_.size();
}

std::vector<Id> Index::pack_ids() const {
  std::shared_lock lock(mu_);
  std::vector<Id> out;
  out.reserve(pack_pos_.size());
  for (const Id& p : packs_)
    if (pack_pos_.count(p)) out.push_back(p);
  return out;
}

bool Index::has_pack(const Id& pack) const {
  std::shared_lock lock(mu_);
  return pack_pos_.count(pack) != 0;
}

void Index::for_each(const std::function<void(const BlobLocation&)>& fn, bool alternates) const {
  std::shared_lock lock(mu_);
  for (const auto& e : table_) fn(location_of(e));
  for (const auto& e : overlay_) fn(location_of(e));
  if (alternates)
    for (const auto& [id, e] : alternates_) fn(location_of(e));
}

// Segment payload: u32 pack count, then per pack: id (32) | salt (32) |
// u32 blob count | entries as in the pack trailer (46 bytes each).
Bytes encode_index_segment(const crypto::Key32& encryption_key, const std::vector<PackInfo>& packs) {
  size_t size = 4;
  for (const auto& p : packs) size += 68 + p.entries.size() * kTrailerEntrySize;
  Bytes out(size);
  uint8_t* w = out.data();
  put_u32le(w, static_cast<uint32_t>(packs.size()));
  w += 4;
  for (const auto& p : packs) {
    std::memcpy(w, p.id.bytes.data(), 32);
    std::memcpy(w + 32, p.salt.data(), 32);
    put_u32le(w + 64, static_cast<uint32_t>(p.entries.size()));
    w += 68;
    for (const auto& e : p.entries) {
      encode_pack_entry(e, w);
      w += kTrailerEntrySize;
    }
  }
  return seal_object(encryption_key, "index", out);
}

std::vector<PackInfo> decode_index_segment(const crypto::Key32& encryption_key, ByteView sealed,
                                           const std::string& name) {
  Bytes plain = open_object(encryption_key, "index", sealed, "index segment " + name);
  auto damaged = [&]() {
    return Error(ErrorCode::kCorrupt, "index segment " + name + " is damaged: bad structure");
  };
  const uint8_t* r = plain.data();
  const uint8_t* end = plain.data() + plain.size();
  if (end - r < 4) throw damaged();
  uint32_t pack_count = get_u32le(r);
  r += 4;
  std::vector<PackInfo> packs;
  packs.reserve(std::min<uint32_t>(pack_count, 1u << 20));
  for (uint32_t i = 0; i < pack_count; ++i) {
    if (end - r < 68) throw damaged();
    PackInfo p;
    p.id = Id::from_bytes(r);
    std::memcpy(p.salt.data(), r + 32, 32);
    uint32_t n = get_u32le(r + 64);
    r += 68;
    if (static_cast<uint64_t>(end - r) < uint64_t{n} * kTrailerEntrySize) throw damaged();
    p.entries.resize(n);
    for (auto& e : p.entries) {
      if (!decode_pack_entry(r, e)) throw damaged();
      r += kTrailerEntrySize;
    }
    packs.push_back(std::move(p));
  }
  if (r != end) throw damaged();
  return packs;
}

}  // namespace lifeboat::repo
