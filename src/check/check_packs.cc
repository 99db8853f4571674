// Passes over packs: existence, size and trailer of every pack the index
// lists; trailers of packs no index lists; and read-data.
#include <algorithm>

#include "base/error.h"
#include "base/thread_pool.h"
#include "check/check_internal.h"
#include "crypto/aead.h"

namespace lifeboat::check::detail {

using backend::ObjectType;
using repo::PackEntry;

namespace {

uint64_t entry_end(const PackEntry& e) { return uint64_t{e.offset} + e.stored_length; }

// The smallest pack that can hold these entries plus its trailer and footer.
uint64_t trailer_and_footer_size(size_t blobs) {
  return 4 + blobs * repo::kTrailerEntrySize + crypto::kTagSize + repo::kPackFooterSize;
}

// The smallest pack that can hold these entries plus its trailer and footer.
uint64_t implied_min_size(const std::vector<PackEntry>& entries) {
  uint64_t end = repo::kPackHeaderSize;
  for (const auto& e : entries) end = std::max(end, entry_end(e));
  return end + trailer_and_footer_size(entries.size());
}

std::string describe(const PackEntry& e) {
  return std::string(repo::blob_type_name(e.type)) + " blob " + e.id.hex() + " at " +
         std::to_string(e.offset) + "+" + std::to_string(e.stored_length);
}

// Empty if the trailer agrees with the index listing, else what differs first.
std::string compare_with_listing(const PackListing& listing, const PackTail& tail) {
  if (listing.salt != tail.salt) return "its salt differs from the index's";
  const auto& a = listing.entries;
  const auto& b = tail.entries;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const PackEntry& x = a[i];
    const PackEntry& y = b[i];
    if (x.id != y.id || x.type != y.type || x.compression != y.compression ||
        x.offset != y.offset || x.stored_length != y.stored_length ||
        x.raw_length != y.raw_length)
      return "the index lists " + describe(x) + " where the trailer lists " + describe(y);
  }
  if (a.size() != b.size())
    return "the index lists " + std::to_string(a.size()) + " blobs, the trailer " +
           std::to_string(b.size());
  return {};
}

}  // namespace

void Checker::list_packs() {
  backend_.list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
    auto id = Id::from_hex(name);
    if (!id || id->hex() != name) {
      add_warning("data/" + std::string(name) + " is not named like a pack; ignored");
      return;
    }
    pack_sizes_.emplace(*id, size);
  });
}

void Checker::check_indexed_packs() {
  ThreadPool pool(threads());
  for (const auto& [pack_id, listing_ref] : listings_) {
    const Id id = pack_id;
    const PackListing* listing = &listing_ref;  // listings_ does not change during this pass
    pool.submit([this, id, listing] {
      const std::string name = id.hex();
      const std::string listed_by = "index segment " + listing->source.substr(0, 8) + " lists it with " +
                                    std::to_string(listing->entries.size()) + " blobs";
      auto all = [](const PackEntry&) { return true; };
      auto size_it = pack_sizes_.find(id);
      if (size_it == pack_sizes_.end()) {
        size_t p = add_problem({"pack", name, "missing: " + listed_by, {}, {}, {}});
        blame_pack_entries(id, listing->entries, p, all);
        return;
      }
      const uint64_t size = size_it->second;
      const uint64_t min_size = implied_min_size(listing->entries);
      if (size < min_size) {
        size_t p = add_problem({"pack", name,
                                "truncated: " + std::to_string(size) + " bytes where " + listed_by +
                                    " that need at least " + std::to_string(min_size),
                                {}, {}, {}});
        blame_pack_entries(id, listing->entries, p,
                           [size](const PackEntry& e) { return entry_end(e) > size; });
        return;
      }
      // The trailer is not needed to read blobs (the index locates them), so
      // a bad trailer alone loses no data: no blame, but a problem (the pack
      // no longer describes itself, law 3).
      try {
        // One small ranged read: the listing says how long the trailer is.
        PackTail tail = read_tail(id, size, {}, trailer_and_footer_size(listing->entries.size()));
        std::string diff = compare_with_listing(*listing, tail);
        if (!diff.empty()) {
          // Readers that fail at the index's place read the trailer's, so
          // the rest of the check judges the pack by its trailer.
          repo::PackInfo info{id, tail.salt, tail.entries};
          trailer_index_.add_pack(info);
          {
            std::lock_guard lock(mu_);
            trailer_views_.emplace(id, PackListing{tail.salt, std::move(tail.entries), "trailer"});
          }
          add_problem({"pack", name,
                       "its trailer does not match the index: " + diff +
                           "; readers fall back to the trailer ('lifeboat check --read-data' "
                           "verifies it); 'lifeboat repair index --full' rewrites the index",
                       {}, {}, {}, {}, true});
        }
      } catch (const Error& e) {
        add_problem({"pack", name, "trailer unreadable: " + e.message(), {}, {}, {}});
      }
    });
  }
  pool.wait();
}

void Checker::check_unreferenced_packs() {
  std::vector<std::pair<Id, uint64_t>> packs;
  for (const auto& [id, size] : pack_sizes_)
    if (!listings_.count(id)) packs.emplace_back(id, size);
  std::sort(packs.begin(), packs.end());
  report_.unreferenced_packs = packs.size();

  ThreadPool pool(threads());
  for (const auto& [id, size] : packs) {
    pool.submit([this, id = id, size = size] {
      const std::string what = "pack " + id.hex() + " is in no index";
      try {
        PackTail tail = read_tail(id, size, {});
        add_warning(what + " (left by an interrupted or running backup)");
        repo::PackInfo info{id, tail.salt, tail.entries};
        unreferenced_index_.add_pack(info);
        std::lock_guard lock(mu_);
        unreferenced_.emplace(id, PackListing{tail.salt, std::move(tail.entries), "trailer"});
      } catch (const Error& e) {
        add_warning(what + " and its trailer is unreadable: " + e.message());
      }
    });
  }
  pool.wait();
}

void Checker::judge_damaged_segments() {
  for (const auto& [name, message] : damaged_segments_) {
    if (report_.unreferenced_packs == 0)
      add_warning("index segment " + name + " cannot be read (" + message +
                  "); every pack is listed by another segment, so nothing depends on it");
    else
      add_problem({"index", name,
                   message + "; its packs count as unreferenced (restores read their trailers) "
                   "until 'lifeboat repair index'",
                   {}, {}, {}, {}, true});
  }
}

void Checker::read_data() {
  std::vector<std::pair<Id, uint64_t>> selected;
  for (const auto& [id, size] : pack_sizes_)
    if (options_.subset_m == 0 || id.bytes[0] % options_.subset_m == options_.subset_n - 1)
      selected.emplace_back(id, size);
  std::sort(selected.begin(), selected.end());

  const uint64_t total = selected.size();
  uint64_t done = 0;
  std::mutex progress_mu;
  if (options_.on_progress) options_.on_progress(0, total);

  ThreadPool pool(threads());
  for (const auto& [pack_id, listed_size] : selected) {
    pool.submit([&, id = pack_id] {
      const std::string name = id.hex();
      std::vector<std::string> faults;
      std::vector<Id> failed;
      std::string first_failure;
      const PackListing* listing = nullptr;
      if (auto t = trailer_views_.find(id); t != trailer_views_.end()) listing = &t->second;
      else if (auto it = listings_.find(id); it != listings_.end()) listing = &it->second;
      else if (auto u = unreferenced_.find(id); u != unreferenced_.end()) listing = &u->second;
      uint64_t size = 0;
      bool loaded = false;
      try {
        // One whole pack per worker: memory is threads x pack size.
        const Bytes bytes = backend_.load({ObjectType::kData, name}, 0, 0);
        size = bytes.size();
        loaded = true;
        if (crypto::sha256(bytes) != id) faults.push_back("its content does not match its name");

        std::optional<PackTail> tail;
        try {
          tail = read_tail(id, size, bytes);
        } catch (const Error& e) {
          faults.push_back("trailer unreadable: " + e.message());
        }
        // Verify what readers use: the index's view of the pack (the
        // trailer's where the two disagree), else the trailer's.
        repo::PackSalt salt{};
        const std::vector<PackEntry>* entries = nullptr;
        if (listing) {
          salt = listing->salt;
          entries = &listing->entries;
        } else if (tail) {
          salt = tail->salt;
          entries = &tail->entries;
        }
        if (entries) {
          crypto::Aead aead(repo::pack_subkey(repo_.keys().encryption, salt));
          Bytes out, scratch;
          for (const auto& e : *entries) {
            try {
              if (entry_end(e) > size)
                throw Error(ErrorCode::kCorrupt, describe(e) + " lies past the end of the pack");
              repo::decode_blob(aead, repo_.hasher(), e,
                                ByteView(bytes).subspan(e.offset, e.stored_length), id, out, scratch);
            } catch (const Error& err) {
              if (first_failure.empty()) first_failure = err.message();
              failed.push_back(e.id);
            }
          }
          if (!failed.empty())
            faults.push_back(std::to_string(failed.size()) + " of " +
                             std::to_string(entries->size()) +
                             " blobs fail to verify (first: " + first_failure + ")");
        }
      } catch (const Error& e) {
        faults.push_back("unreadable: " + e.message());
        if (listing)
          for (const auto& entry : listing->entries) failed.push_back(entry.id);
      }

      if (!faults.empty()) {
        std::string message = "read-data: ";
        for (size_t i = 0; i < faults.size(); ++i) message += (i ? "; " : "") + faults[i];
        Problem p{"pack", name, message, {}, {}, {}};
        for (const Id& b : failed) p.blobs.push_back(b.hex());
        size_t index = add_problem(std::move(p));
        std::vector<PackEntry> lost;
        for (const Id& b : failed) {
          PackEntry e;
          e.id = b;
          lost.push_back(e);
        }
        blame_pack_entries(id, lost, index, [](const PackEntry&) { return true; });
      }
      if (loaded) {
        std::lock_guard lock(mu_);
        report_.packs_read++;
        report_.bytes_read += size;
      }
      std::lock_guard lock(progress_mu);
      ++done;
      if (options_.on_progress) options_.on_progress(done, total);
    });
  }
  pool.wait();
}

}  // namespace lifeboat::check::detail
