// Passes over the small objects: config, keys, index segments, snapshots.
#include <algorithm>

#include "base/error.h"
#include "base/thread_pool.h"
#include "check/check_internal.h"
#include "repo/config.h"
#include "repo/keys.h"
#include "repo/snapshot.h"

namespace lifeboat::check::detail {

using backend::ObjectType;

namespace {

bool same_entry(const repo::PackEntry& a, const repo::PackEntry& b) {
  return a.type == b.type && a.compression == b.compression && a.id == b.id &&
         a.offset == b.offset && a.stored_length == b.stored_length &&
         a.raw_length == b.raw_length;
}

bool same_listing(const PackListing& a, const PackListing& b) {
  return a.salt == b.salt && a.entries.size() == b.entries.size() &&
         std::equal(a.entries.begin(), a.entries.end(), b.entries.begin(), same_entry);
}

std::vector<std::string> list_names(backend::Backend& backend, ObjectType type) {
  std::vector<std::string> names;
  backend.list(type, [&](std::string_view name, uint64_t) { names.emplace_back(name); });
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

void Checker::check_config() {
  try {
    repo::decode_config(repo_.keys().encryption, backend_.load({ObjectType::kConfig, "config"}));
  } catch (const Error& e) {
    add_problem({"config", "config", e.message(), {}, {}, {}});
  }
}

void Checker::check_keys() {
  for (const auto& name : list_names(backend_, ObjectType::kKey)) {
    try {
      Bytes file = backend_.load({ObjectType::kKey, name});
      repo::parse_key_file_info(file, name);
      // Key files are named by the SHA-256 of their bytes: a bit flipped in
      // the wrapped keys still parses, but no longer matches the name.
      if (crypto::sha256(file).hex() != name)
        add_problem({"key", name, "key file keys/" + name + " is damaged: its content does not match its name",
                     {}, {}, {}});
    } catch (const Error& e) {
      add_problem({"key", name, e.message(), {}, {}, {}});
    }
  }
}

void Checker::list_snapshot_names() {
  snapshot_names_ = list_names(backend_, ObjectType::kSnapshot);
}

void Checker::check_index_segments() {
  ThreadPool pool(threads());
  for (const auto& name : list_names(backend_, ObjectType::kIndex)) {
    pool.submit([this, name] {
      std::vector<repo::PackInfo> packs;
      try {
        Bytes sealed = backend_.load({ObjectType::kIndex, name});
        packs = repo::decode_index_segment(repo_.keys().encryption, sealed, name);
        if (crypto::sha256(sealed).hex() != name)
          add_problem({"index", name,
                       "index segment " + name + " decodes but does not match its name", {}, {}, {}});
      } catch (const Error& e) {
        // Judged once the packs are listed: if every pack is listed by a
        // readable segment, nothing depends on this one.
        std::lock_guard lock(mu_);
        damaged_segments_.emplace_back(name, e.message());
        return;
      }
      for (auto& info : packs) {
        PackListing listing{info.salt, std::move(info.entries), name};
        std::sort(listing.entries.begin(), listing.entries.end(),
                  [](const repo::PackEntry& a, const repo::PackEntry& b) { return a.offset < b.offset; });
        // Segments written since the caller loaded the index (law 2 keeps
        // them consistent with what we list later).
        if (!repo_.index().has_pack(info.id)) {
          info.entries = listing.entries;
          repo_.index().add_pack(info);
        }
        std::unique_lock lock(mu_);
        auto [it, inserted] = listings_.try_emplace(info.id, std::move(listing));
        if (!inserted && !same_listing(it->second, listing)) {
          std::string other = it->second.source;
          lock.unlock();
          add_problem({"index", name,
                       "index segment " + name + " lists pack " + info.id.hex() +
                           " differently from segment " + other +
                           "; 'lifeboat repair index' rebuilds both from the pack",
                       {}, {}, {}});
        }
      }
    });
  }
  pool.wait();
}

void Checker::load_snapshots() {
  std::vector<std::optional<repo::Snapshot>> loaded(snapshot_names_.size());
  ThreadPool pool(threads());
  for (size_t i = 0; i < snapshot_names_.size(); ++i) {
    pool.submit([this, i, &loaded] {
      const std::string& name = snapshot_names_[i];
      auto problem = [&](const std::string& message) {
        add_problem({"snapshot", name, message, {name}, {}, {}});
      };
      try {
        Bytes sealed = backend_.load({ObjectType::kSnapshot, name});
        if (!Id::from_hex(name)) {
          problem("snapshots/" + name + " is not named by a snapshot id");
          return;
        }
        repo::Snapshot s = repo::decode_snapshot(repo_.keys().encryption, sealed, name);
        if (crypto::sha256(sealed).hex() != name) {
          problem("snapshot " + name + " decodes but does not match its name");
          return;
        }
        if (s.tree.is_zero()) {
          problem("snapshot " + name + " has no tree");
          return;
        }
        loaded[i] = std::move(s);
      } catch (const Error& e) {
        problem(e.message());
      }
    });
  }
  pool.wait();
  for (size_t i = 0; i < loaded.size(); ++i)
    if (loaded[i]) snapshots_.emplace_back(*Id::from_hex(snapshot_names_[i]), std::move(*loaded[i]));
  report_.snapshots = snapshots_.size();
}

}  // namespace lifeboat::check::detail
