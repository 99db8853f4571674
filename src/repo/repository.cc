#include "repo/repository.h"

#include "repo/pack_reader.h"

#include <algorithm>

#include "base/error.h"
#include "base/thread_pool.h"
#include "repo/compress.h"

namespace lifeboat::repo {

using backend::Handle;
using backend::ObjectType;

namespace {
// An index segment is written after this many packs even before flush(), so
// a killed backup leaves most of its packs indexed for the next run.
constexpr size_t kPacksPerSegment = 64;
}  // namespace

void Repository::init(backend::Backend& backend, std::string_view password,
                      const crypto::KdfParams& kdf, const KeyFileInfo& key_info, Config config,
                      const std::optional<MasterKeys>& given_keys) {
  if (backend.size({ObjectType::kConfig, "config"}))
    throw Error(ErrorCode::kAlreadyExists,
                "a repository already exists at " + backend.location() + "; nothing was changed");
  chunk::GearTable check_params(crypto::Key32{});
  chunk::Chunker(check_params, config.chunker);  // validates the parameters
  backend.create();
  const MasterKeys keys = given_keys ? *given_keys : MasterKeys::generate();
  // Key first, config last: a repository whose init was interrupted has no
  // config and is not mistaken for a valid one.
  save_key_file(backend, make_key_file(keys, password, kdf, key_info));
  backend.save({ObjectType::kConfig, "config"}, encode_config(keys.encryption, config));
}

std::unique_ptr<Repository> Repository::open(std::shared_ptr<backend::Backend> backend,
                                             std::string_view password, RepositoryOptions options) {
  const std::string loc = backend->location();
  std::optional<Bytes> config_bytes;
  try {
    config_bytes = backend->load({ObjectType::kConfig, "config"});
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    if (!options.allow_missing_config)
      throw Error(ErrorCode::kNotARepository,
                  loc + " is not a lifeboat repository (no config); create one with 'lifeboat init'");
  }

  std::vector<std::string> key_names;
  backend->list(ObjectType::kKey, [&](std::string_view name, uint64_t) {
    key_names.emplace_back(name);
  });
  std::sort(key_names.begin(), key_names.end());
  if (key_names.empty())
    throw Error(ErrorCode::kCorrupt, "repository " + loc + " has no key files (keys/ is empty)");

  MasterKeys keys;
  std::string opened_with;
  size_t damaged = 0;
  for (const auto& name : key_names) {
    try {
      Bytes file = backend->load({ObjectType::kKey, name});
      if (unwrap_key_file(file, password, keys)) {
        opened_with = name;
        break;
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
      ++damaged;
      if (options.warn) options.warn("key file keys/" + name + " skipped: " + e.message());
    }
  }
  if (opened_with.empty()) {
    if (damaged == key_names.size())
      throw Error(ErrorCode::kCorrupt, "every key file of repository " + loc +
                                           " is damaged; restore keys/ from a copy");
    throw Error(ErrorCode::kWrongPassword,
                "wrong password: no key of repository " + loc + " opens with it");
  }
  Config config;
  bool config_damaged = false;
  try {
    if (!config_bytes) throw Error(ErrorCode::kCorrupt, "repository config is missing");
    config = decode_config(keys.encryption, *config_bytes);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    // Reading needs only the keys: carry on with defaults, say so, and let
    // writers refuse (require_intact_config).
    config_damaged = true;
    if (options.warn)
      options.warn(e.message() + " in " + loc +
                   ": reading with default settings; backups are refused until "
                   "'lifeboat repair config' writes a new one");
  }
  auto repo = std::unique_ptr<Repository>(
      new Repository(std::move(backend), keys, std::move(config), opened_with, std::move(options)));
  repo->config_damaged_ = config_damaged;
  return repo;
}

void Repository::require_intact_config() const {
  if (config_damaged_)
    throw Error(ErrorCode::kCorrupt,
                "the config of repository " + backend_->location() +
                    " is damaged; new data would be chunked with guessed parameters, so backups "
                    "are refused: run 'lifeboat repair config' (restores work meanwhile)");
}

void Repository::replace_config(const Config& config) {
  chunk::GearTable check_params(crypto::Key32{});
  chunk::Chunker(check_params, config.chunker);  // validates the parameters
  Bytes sealed = encode_config(keys_.encryption, config);
  const backend::Handle h{ObjectType::kConfig, "config"};
  // Objects are create-only, so the old one goes first. Between the two, a
  // reader finds no config; `repair config` (allow_missing_config) then
  // finishes the job.
  if (backend_->size(h)) backend_->remove(h);
  backend_->save(h, sealed);
  // config_ keeps what the packers were built for; repositories opened
  // from now on read the new config.
}

Repository::Repository(std::shared_ptr<backend::Backend> backend, MasterKeys keys, Config config,
                       std::string key_name, RepositoryOptions options)
    : backend_(std::move(backend)),
      keys_(keys),
      config_(std::move(config)),
      key_name_(std::move(key_name)),
      options_(std::move(options)),
      hasher_(std::make_unique<crypto::IdHasher>(keys_.id)),
      gear_(std::make_unique<chunk::GearTable>(keys_.chunker)),
      upload_queue_(std::max<size_t>(1, options_.upload_queue)) {
  size_t packers = std::max<size_t>(1, options_.packers);
  for (size_t i = 0; i < packers; ++i) {
    packers_.push_back(std::make_unique<PackWriter>(keys_.encryption, config_.pack_size + (1 << 20)));
    idle_packers_.push_back(packers_.back().get());
  }
  for (size_t i = 0; i < std::max<size_t>(1, options_.upload_threads); ++i)
    uploaders_.emplace_back([this] { upload_loop(); });
}

Repository::~Repository() {
  upload_queue_.close();
  for (auto& t : uploaders_) t.join();
}

void Repository::warn(const std::string& message) const {
  if (options_.warn) options_.warn(message);
}

std::vector<std::string> Repository::load_index(const SegmentObserver& each_segment) {
  std::vector<std::string> names;
  backend_->list(ObjectType::kIndex, [&](std::string_view name, uint64_t) {
    names.emplace_back(name);
  });
  // Added in name order, whatever order the reads finish in: where two
  // packs hold the same blob, every process picks the same first copy.
  std::sort(names.begin(), names.end());
  std::vector<std::vector<PackInfo>> loaded(names.size());
  std::vector<std::string> skipped;
  bool vanished = false;
  std::mutex mu;
  // Small objects, each a round trip: as many in flight as a remote store
  // serves well, not one per core.
  ThreadPool pool(std::max<size_t>(ThreadPool::default_threads(), kObjectLoadThreads));
  for (size_t i = 0; i < names.size(); ++i) {
    pool.submit([&, i] {
      const std::string& name = names[i];
      try {
        Bytes sealed = backend_->load({ObjectType::kIndex, name});
        if (crypto::sha256(sealed).hex() != name)
          throw Error(ErrorCode::kCorrupt, "index segment " + name + " does not match its name");
        loaded[i] = decode_index_segment(keys_.encryption, sealed, name);
        std::lock_guard lock(mu);
        if (each_segment) each_segment(name, loaded[i]);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
        std::lock_guard lock(mu);
        if (e.code() == ErrorCode::kNotFound) {
          // Listed, then gone: a prune replaced it (its successor is
          // written first) — read the listing again below.
          vanished = true;
          return;
        }
        skipped.push_back(name);
        warn("index segment " + name + " skipped: " + e.message());
      }
    });
  }
  pool.wait();
  {
    std::lock_guard lock(segments_mu_);
    // Unreadable ones too: a segment is never visible half-written, so one
    // that does not read is damaged, and refresh_index need not retry it.
    segments_seen_.insert(names.begin(), names.end());
  }
  std::vector<PackInfo> all;
  size_t count = 0;
  for (const auto& packs : loaded) count += packs.size();
  all.reserve(count);
  for (auto& packs : loaded)
    for (auto& p : packs) all.push_back(std::move(p));
  loaded.clear();
  index_.add_packs(all);
  if (vanished) refresh_index();
  std::sort(skipped.begin(), skipped.end());
  return skipped;
}

size_t Repository::refresh_index() {
  std::vector<std::string> fresh;
  backend_->list(ObjectType::kIndex, [&](std::string_view name, uint64_t) { fresh.emplace_back(name); });
  {
    std::lock_guard lock(segments_mu_);
    std::erase_if(fresh, [&](const std::string& n) { return segments_seen_.count(n) > 0; });
  }
  std::sort(fresh.begin(), fresh.end());
  std::vector<PackInfo> all;
  size_t added = 0;
  for (const auto& name : fresh) {
    try {
      Bytes sealed = backend_->load({ObjectType::kIndex, name});
      if (crypto::sha256(sealed).hex() == name) {
        for (auto& p : decode_index_segment(keys_.encryption, sealed, name)) all.push_back(std::move(p));
        ++added;
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
    }
    std::lock_guard lock(segments_mu_);
    segments_seen_.insert(name);
  }
  if (!all.empty()) index_.add_packs(all);
  return added;
}

// ---- the index is a cache ----

Repository::UnlistedPacks Repository::index_unlisted_packs() const {
  std::lock_guard lock(recover_mu_);
  return read_trailers_locked(false);
}

Repository::UnlistedPacks Repository::read_trailers_locked(bool listed) const {
  std::vector<std::pair<Id, uint64_t>> todo;
  backend_->list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
    auto id = Id::from_hex(name);
    if (!id || trailers_read_.count(*id) || (!listed && index_.has_pack(*id))) return;
    todo.emplace_back(*id, size);
  });
  UnlistedPacks out;
  std::vector<std::optional<PackInfo>> read(todo.size());
  std::vector<std::string> errors(todo.size());
  {
    ThreadPool pool(std::max<size_t>(4, ThreadPool::default_threads()));
    for (size_t i = 0; i < todo.size(); ++i)
      pool.submit([&, i] {
        try {
          read[i] = read_pack_trailer(*backend_, keys_.encryption, todo[i].first, todo[i].second);
        } catch (const Error& e) {
          errors[i] = e.message();
        }
      });
    pool.wait();
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    trailers_read_.insert(todo[i].first);
    if (!read[i]) {
      out.unreadable.push_back(todo[i].first.hex());
      warn("pack " + todo[i].first.hex() + (index_.has_pack(todo[i].first) ? "" : " is in no index segment and") +
           " its trailer cannot be read: " + errors[i]);
      continue;
    }
    ++out.packs;
    out.blobs += read[i]->entries.size();
    recovered_.add_pack(*read[i]);
    if (!index_.has_pack(todo[i].first)) recovered_packs_.push_back(std::move(*read[i]));
  }
  return out;
}

std::optional<BlobLocation> Repository::locate(const Id& blob) const {
  if (auto loc = index_.find(blob)) return loc;
  if (auto loc = recovered_.find(blob)) return loc;
  std::lock_guard lock(recover_mu_);
  if (auto loc = recovered_.find(blob)) return loc;  // another thread searched meanwhile
  if (!unlisted_searched_) {
    unlisted_searched_ = true;
    UnlistedPacks found = read_trailers_locked(false);
    if (found.packs > 0)
      warn("the index lacks blobs: read the trailers of " + std::to_string(found.packs) +
           " packs no index segment lists (" + std::to_string(found.blobs) +
           " blobs) and carried on; run 'lifeboat repair index' to write them into the index");
    if (auto loc = recovered_.find(blob)) return loc;
  }
  if (!all_searched_) {
    // A segment may list a pack without all of its blobs (damaged or
    // tampered entries): only the trailers say for sure.
    all_searched_ = true;
    UnlistedPacks found = read_trailers_locked(true);
    auto loc = recovered_.find(blob);
    warn("blob " + blob.hex() + " is in no index segment: read the trailers of " +
         std::to_string(found.packs) + " more packs " +
         (loc ? "and found it (and any other blob the index lacks); run 'lifeboat repair index --full'"
              : "and it is in none of them; run 'lifeboat check'"));
    return loc;
  }
  return std::nullopt;
}

Repository::Place Repository::place_of(const BlobLocation& loc) {
  return {loc.pack, loc.entry.offset, loc.entry.stored_length,
          loc.entry.raw_length | (loc.entry.compression == Compression::kZstd ? 1u << 31 : 0)};
}

std::optional<BlobLocation> Repository::usable_locked(const Id& blob) const {
  const Index* const indexes[] = {&index_, &recovered_};
  for (const Index* index : indexes)
    for (BlobLocation& loc : index->find_all(blob))
      if (!gone_packs_.count(loc.pack) && !bad_places_.count(place_of(loc)))
        return std::move(loc);
  return std::nullopt;
}

std::optional<BlobLocation> Repository::relocate(const Id& blob, const BlobLocation& failed,
                                                 const Error& why) const {
  std::lock_guard lock(recover_mu_);
  bad_places_.insert(place_of(failed));
  if (why.code() == ErrorCode::kNotFound) {
    gone_packs_.insert(failed.pack);
  } else if (!trailers_read_.count(failed.pack)) {
    // The pack is there: its own trailer says where the blob really is when
    // it is the index entry that is wrong.
    trailers_read_.insert(failed.pack);
    try {
      auto size = backend_->size({ObjectType::kData, failed.pack.hex()});
      if (!size) throw Error(ErrorCode::kNotFound, "pack " + failed.pack.hex() + " is gone");
      recovered_.add_pack(read_pack_trailer(*backend_, keys_.encryption, failed.pack, *size));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) gone_packs_.insert(failed.pack);
    }
  }
  auto found = usable_locked(blob);
  if (!found && !unlisted_searched_) {
    unlisted_searched_ = true;
    read_trailers_locked(false);
    found = usable_locked(blob);
  }
  if (!found && !all_searched_) {
    all_searched_ = true;
    read_trailers_locked(true);
    found = usable_locked(blob);
  }
  // Said once, and only when it helped (where nothing else has the blob,
  // the caller reports the loss itself): `check` lists every such place.
  if (found && !warned_relocation_) {
    warned_relocation_ = true;
    warn(why.message() + "; read it (and whatever else the index gets wrong) from pack trailers "
         "and other copies instead and carried on; 'lifeboat check' lists every such place, "
         "'lifeboat repair index' fixes the index");
  }
  return found;
}

size_t Repository::forget_missing_packs() {
  size_t dropped_packs = 0;
  std::call_once(missing_packs_checked_, [&] { dropped_packs = forget_missing_packs_now(); });
  return dropped_packs;
}

size_t Repository::forget_missing_packs_now() {
  std::unordered_set<Id, IdHash> present;
  backend_->list(ObjectType::kData, [&](std::string_view name, uint64_t) {
    if (auto id = Id::from_hex(name)) present.insert(*id);
  });
  std::unordered_set<Id, IdHash> gone;
  for (const Id& p : index_.pack_ids())
    if (!present.count(p)) gone.insert(p);
  if (gone.empty()) return 0;
  const size_t dropped = index_.remove_packs(gone);
  {
    std::lock_guard lock(recover_mu_);
    gone_packs_.insert(gone.begin(), gone.end());
  }
  warn("the index lists " + std::to_string(gone.size()) + " packs the repository no longer has (" +
       gone.begin()->hex() + (gone.size() > 1 ? ", ..." : "") + "); " + std::to_string(dropped) +
       " blobs only they held will be stored again where a backup meets them; run 'lifeboat check'");
  return gone.size();
}

std::vector<PackInfo> Repository::recovered_packs() const {
  std::lock_guard lock(recover_mu_);
  return recovered_packs_;
}

// ---- saving ----

PackWriter* Repository::acquire_packer() {
  std::unique_lock lock(packer_mu_);
  packer_cv_.wait(lock, [&] { return !idle_packers_.empty(); });
  PackWriter* p = idle_packers_.back();
  idle_packers_.pop_back();
  return p;
}

void Repository::release_packer(PackWriter* packer, bool full) {
  if (full) {
    FinishedPack f{packer->finish(), 0};
    {
      std::lock_guard lock(upload_mu_);
      f.ticket = next_upload_++;
      uploads_pending_.insert(f.ticket);
    }
    upload_queue_.push(std::move(f));
  }
  std::lock_guard lock(packer_mu_);
  idle_packers_.push_back(packer);
  packer_cv_.notify_one();
}

void Repository::exclude_from_dedup(const std::unordered_set<Id, IdHash>& packs) {
  dedup_excluded_.insert(packs.begin(), packs.end());
}

bool Repository::has_usable_copy(const Id& blob) const {
  for (const Index* index : {static_cast<const Index*>(&index_), static_cast<const Index*>(&recovered_)}) {
    auto first = index->find(blob);
    if (!first) continue;
    if (!dedup_excluded_.count(first->pack)) return true;
    for (const auto& loc : index->find_all(blob))
      if (!dedup_excluded_.count(loc.pack)) return true;
  }
  return false;
}

bool Repository::can_reference(const Id& blob) const {
  if (dedup_excluded_.empty()) return true;
  return has_usable_copy(blob);
}

bool Repository::save_blob(BlobType type, const Id& id, ByteView plaintext, SaveTally* tally) {
  return store_blob(type, id, plaintext, tally, false);
}

void Repository::save_blob_copy(BlobType type, const Id& id, ByteView plaintext) {
  store_blob(type, id, plaintext, nullptr, true);
}

bool Repository::store_blob(BlobType type, const Id& id, ByteView plaintext, SaveTally* tally, bool copy) {
  if (!copy) {
    if (dedup_excluded_.empty()) {
      if (index_.contains(id) || recovered_.contains(id)) return false;
    } else if (has_usable_copy(id)) {
      return false;
    }
  }
  uint64_t epoch;
  {
    std::lock_guard lock(inflight_mu_);
    if (!inflight_.insert(id).second) return false;
    epoch = epoch_;
    ++unpacked_[epoch & 1];
  }
  // However this call ends, the blob stops counting as "claimed but not in
  // a packer" (a flush waits for that count to drain).
  struct Packed {
    Repository& repo;
    uint64_t epoch;
    bool failed = true;
    ~Packed() {
      std::lock_guard lock(repo.inflight_mu_);
      if (failed) repo.inflight_.erase(id_);
      if (--repo.unpacked_[epoch & 1] == 0) repo.packed_cv_.notify_all();
    }
    Id id_;
  } packed{*this, epoch, true, id};
  rethrow_upload_error();

  thread_local Bytes compressed;
  int level = type == BlobType::kTree ? 3 : config_.compression_level;
  Compression c = compress(plaintext, compressed, CompressOptions{level});
  ByteView stored = c == Compression::kZstd ? ByteView(compressed) : plaintext;

  PackWriter* packer = acquire_packer();
  // Close the pack before a blob would push it past the target size, so a
  // pack never outgrows its buffer (no reallocation of ~16 MiB buffers).
  if (!packer->empty() && packer->size() + stored.size() + crypto::kTagSize > config_.pack_size) {
    release_packer(packer, true);
    packer = acquire_packer();
  }
  try {
    packer->add(type, id, c, static_cast<uint32_t>(plaintext.size()), stored);
  } catch (...) {
    release_packer(packer, false);
    throw;
  }
  packed.failed = false;
  release_packer(packer, packer->size() >= config_.pack_size);
  if (tally) {
    tally->blobs.fetch_add(1, std::memory_order_relaxed);
    tally->bytes.fetch_add(plaintext.size(), std::memory_order_relaxed);
    tally->bytes_stored.fetch_add(stored.size() + crypto::kTagSize, std::memory_order_relaxed);
  }
  return true;
}

void Repository::upload_loop() {
  while (auto finished = upload_queue_.pop()) {
    PackWriter::Finished& pack = finished->pack;
    PackInfo info{pack.id, pack.salt, std::move(pack.entries)};
    auto done = [&] {
      std::lock_guard lock(upload_mu_);
      uploads_pending_.erase(finished->ticket);
      upload_cv_.notify_all();
    };
    try {
      backend_->save({ObjectType::kData, pack.id.hex()}, pack.bytes);
      index_.add_pack(info);
    } catch (...) {
      {
        std::lock_guard lock(inflight_mu_);
        for (const auto& e : info.entries) inflight_.erase(e.id);
      }
      {
        std::lock_guard lock(upload_mu_);
        if (!upload_error_) upload_error_ = std::current_exception();
      }
      done();
      continue;
    }
    {
      std::lock_guard lock(inflight_mu_);
      for (const auto& e : info.entries) inflight_.erase(e.id);
    }
    bool segment_full;
    {
      std::lock_guard lock(upload_mu_);
      stats_.packs_written++;
      stats_.blobs_added += info.entries.size();
      for (const auto& e : info.entries) stats_.bytes_added += e.raw_length;
      stats_.bytes_stored += pack.bytes.size();
      unindexed_packs_.push_back(std::move(info));
      segment_full = unindexed_packs_.size() >= kPacksPerSegment;
    }
    done();
    if (segment_full) {
      try {
        write_unindexed_packs();
      } catch (...) {
        std::lock_guard lock(upload_mu_);
        if (!upload_error_) upload_error_ = std::current_exception();
      }
    }
  }
}

void Repository::rethrow_upload_error() {
  std::lock_guard lock(upload_mu_);
  if (upload_error_) std::rethrow_exception(upload_error_);
}

std::string Repository::write_segment(const std::vector<PackInfo>& packs) {
  Bytes sealed = encode_index_segment(keys_.encryption, packs);
  const std::string name = crypto::sha256(sealed).hex();
  backend_->save({ObjectType::kIndex, name}, sealed);
  std::lock_guard lock(segments_mu_);
  segments_seen_.insert(name);  // refresh_index need not read it back
  return name;
}

std::string Repository::save_index_segment(const std::vector<PackInfo>& packs) {
  const std::string name = write_segment(packs);
  for (const PackInfo& p : packs)
    if (!index_.has_pack(p.id)) index_.add_pack(p);
  return name;
}

void Repository::write_unindexed_packs() {
  // Held from taking the packs until their segment is durable: a flush that
  // finds nothing left to write knows no segment is still being written.
  std::lock_guard segment_lock(segment_mu_);
  std::vector<PackInfo> packs;
  {
    std::lock_guard lock(upload_mu_);
    packs.swap(unindexed_packs_);
  }
  if (packs.empty()) return;
  write_segment(packs);
}

void Repository::flush() {
  // Two flushes taking packers one by one could each hold some and wait for
  // the other's forever.
  std::lock_guard flush_lock(flush_mu_);
  // 1. Blobs claimed before now (by any thread) reach a packer. Claims made
  //    from here on count in the new epoch and are not waited for.
  {
    std::unique_lock lock(inflight_mu_);
    const uint64_t previous = epoch_++;
    packed_cv_.wait(lock, [&] { return unpacked_[previous & 1] == 0; });
  }
  // 2. Take every packer (waiting for busy ones), finish the non-empty ones.
  std::vector<PackWriter*> taken;
  for (size_t i = 0; i < packers_.size(); ++i) taken.push_back(acquire_packer());
  for (PackWriter* p : taken) release_packer(p, !p->empty());
  uint64_t last_ticket;  // every pack finished so far, the ones just finished included
  {
    std::lock_guard lock(upload_mu_);
    last_ticket = next_upload_;
  }
  // 3. Their uploads end (packs other threads finish later are not waited for).
  {
    std::unique_lock lock(upload_mu_);
    upload_cv_.wait(lock, [&] {
      return uploads_pending_.empty() || *uploads_pending_.begin() >= last_ticket;
    });
  }
  rethrow_upload_error();
  // 4. An index segment lists them (possibly with later packs: harmless).
  write_unindexed_packs();
}

BlobStoreStats Repository::stats() const {
  std::lock_guard lock(upload_mu_);
  return stats_;
}

// ---- loading ----

Bytes Repository::load_blob(BlobType type, const Id& id) const {
  auto loc = locate(id);
  if (!loc)
    throw Error(ErrorCode::kNotFound, std::string(blob_type_name(type)) + " blob " + id.hex() +
                                          " is in no index segment and no pack of " +
                                          backend_->location() + "; run 'lifeboat check'");
  try {
    return load_blob_at(*loc);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
    return load_blob_elsewhere(id, *loc, e);
  }
}

Bytes Repository::load_blob_elsewhere(const Id& blob, const BlobLocation& failed,
                                      const Error& why) const {
  Error last = why;
  BlobLocation at = failed;
  // relocate never offers a place twice, so this ends.
  while (auto next = relocate(blob, at, last)) {
    try {
      return load_blob_at(*next);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
      last = e;
      at = *next;
    }
  }
  throw last;
}

Bytes Repository::load_blob_at(const BlobLocation& loc) const {
  Bytes stored = backend_->load({ObjectType::kData, loc.pack.hex()}, loc.entry.offset,
                                loc.entry.stored_length);
  if (stored.size() != loc.entry.stored_length)
    throw Error(ErrorCode::kCorrupt, "pack " + loc.pack.hex() + " is short: " +
                                         std::to_string(stored.size()) + " of " +
                                         std::to_string(loc.entry.stored_length) +
                                         " bytes at offset " + std::to_string(loc.entry.offset));
  crypto::Aead aead(pack_subkey(keys_.encryption, loc.salt));
  Bytes out, scratch;
  decode_blob(aead, *hasher_, loc.entry, stored, loc.pack, out, scratch);
  return out;
}

std::vector<std::optional<Bytes>> Repository::load_blobs_in_one_read(
    const std::vector<BlobLocation>& locs) const {
  std::vector<std::optional<Bytes>> out(locs.size());
  if (locs.empty()) return out;
  const uint64_t first = locs.front().entry.offset;
  const uint64_t end = locs.back().entry.offset + locs.back().entry.stored_length;
  const Bytes stored = backend_->load({ObjectType::kData, locs.front().pack.hex()}, first, end - first);
  crypto::Aead aead(pack_subkey(keys_.encryption, locs.front().salt));
  Bytes scratch;
  for (size_t i = 0; i < locs.size(); ++i) {
    const PackEntry& e = locs[i].entry;
    if (e.offset < first || e.offset + e.stored_length > first + stored.size()) continue;
    try {
      Bytes blob;
      decode_blob(aead, *hasher_, e, ByteView(stored).subspan(e.offset - first, e.stored_length), locs[i].pack,
                  blob, scratch);
      out[i] = std::move(blob);
    } catch (const Error&) {
      // Left to load_blob, which knows where else to look.
    }
  }
  return out;
}

Tree Repository::load_tree(const Id& id) const {
  Bytes raw = load_blob(BlobType::kTree, id);
  try {
    return decode_tree(raw);
  } catch (const Error& e) {
    throw Error(ErrorCode::kCorrupt, "tree " + id.hex() + ": " + e.message());
  }
}

Id Repository::save_tree(const Tree& tree, SaveTally* tally) {
  Bytes raw = encode_tree(tree);
  Id id = hash(raw);
  save_blob(BlobType::kTree, id, raw, tally);
  return id;
}

// ---- snapshots ----

void Repository::set_snapshot_guard(std::function<void()> guard) {
  std::lock_guard lock(guard_mu_);
  snapshot_guard_ = std::move(guard);
}

Id Repository::save_snapshot(const Snapshot& snapshot) {
  {
    std::lock_guard lock(guard_mu_);
    if (snapshot_guard_) snapshot_guard_();
  }
  Bytes sealed = encode_snapshot(keys_.encryption, snapshot);
  Id id = crypto::sha256(sealed);
  backend_->save({ObjectType::kSnapshot, id.hex()}, sealed);
  return id;
}

Snapshot Repository::load_snapshot(const Id& id) const {
  {
    std::lock_guard lock(snapshot_cache_mu_);
    if (auto it = snapshot_cache_.find(id); it != snapshot_cache_.end()) return it->second;
  }
  Bytes sealed = backend_->load({ObjectType::kSnapshot, id.hex()});
  // The name is the hash of the content: a snapshot swapped for another
  // valid one under a different name is caught here.
  if (crypto::sha256(sealed) != id)
    throw Error(ErrorCode::kCorrupt, "snapshot " + id.hex() + " does not match its name");
  Snapshot s = decode_snapshot(keys_.encryption, sealed, id.hex());
  // Snapshots never change (named by their content): a later listing in
  // this process (choosing a restore's primary, then planning it) reads
  // only the new ones.
  std::lock_guard lock(snapshot_cache_mu_);
  snapshot_cache_.emplace(id, s);
  return s;
}

std::vector<std::pair<Id, Snapshot>> Repository::list_snapshots() const {
  std::vector<Id> ids;
  backend_->list(ObjectType::kSnapshot, [&](std::string_view name, uint64_t) {
    if (auto id = Id::from_hex(name)) ids.push_back(*id);
  });
  std::vector<std::optional<Snapshot>> loaded(ids.size());
  ThreadPool pool(std::max<size_t>(ThreadPool::default_threads(), kObjectLoadThreads));
  for (size_t i = 0; i < ids.size(); ++i) {
    pool.submit([&, i] {
      try {
        loaded[i] = load_snapshot(ids[i]);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
        warn("snapshot " + ids[i].hex() + " skipped: " + e.message());
      }
    });
  }
  pool.wait();
  std::vector<std::pair<Id, Snapshot>> out;
  for (size_t i = 0; i < ids.size(); ++i)
    if (loaded[i]) out.emplace_back(ids[i], std::move(*loaded[i]));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time != b.second.time ? a.second.time < b.second.time : a.first < b.first;
  });
  return out;
}

std::pair<Id, Snapshot> Repository::find_snapshot(const std::string& ref,
                                                  const std::string& account) const {
  if (ref == "latest") {
    auto all = list_snapshots();
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (account.empty() || it->second.account == account) return *it;
    throw Error(ErrorCode::kNotFound,
                "no snapshot" + (account.empty() ? "" : " of account '" + account + "'") + " in " +
                    backend_->location());
  }
  if (ref.size() < 4 || ref.size() > 64 || ref.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(ErrorCode::kInvalidArgument,
                "'" + ref + "' is not a snapshot id (use 4-64 hex digits or 'latest')");
  std::vector<Id> matches;
  backend_->list(ObjectType::kSnapshot, [&](std::string_view name, uint64_t) {
    if (name.substr(0, ref.size()) == ref)
      if (auto id = Id::from_hex(name)) matches.push_back(*id);
  });
  if (matches.empty())
    throw Error(ErrorCode::kNotFound, "no snapshot " + ref + " in " + backend_->location() +
                                          "; 'lifeboat snapshots' lists them");
  if (matches.size() > 1)
    throw Error(ErrorCode::kInvalidArgument,
                "snapshot prefix " + ref + " is ambiguous; give more digits");
  return {matches[0], load_snapshot(matches[0])};
}

void Repository::remove_snapshot(const Id& id) {
  {
    std::lock_guard lock(snapshot_cache_mu_);
    snapshot_cache_.erase(id);
  }
  backend_->remove({ObjectType::kSnapshot, id.hex()});
}

// ---- keys ----

std::vector<KeyFileInfo> Repository::list_keys() const {
  std::vector<KeyFileInfo> out;
  std::vector<std::string> names;
  backend_->list(ObjectType::kKey, [&](std::string_view name, uint64_t) { names.emplace_back(name); });
  for (const auto& name : names) {
    try {
      out.push_back(parse_key_file_info(backend_->load({ObjectType::kKey, name}), name));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      warn("key file keys/" + name + " is damaged: " + e.message());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const KeyFileInfo& a, const KeyFileInfo& b) { return a.created < b.created; });
  return out;
}

std::string Repository::add_key(std::string_view password, const crypto::KdfParams& kdf,
                                const KeyFileInfo& info) {
  return save_key_file(*backend_, make_key_file(keys_, password, kdf, info));
}

void Repository::remove_key(const std::string& name) {
  if (name == key_name_)
    throw Error(ErrorCode::kInvalidArgument,
                "key " + name + " is the one in use; open the repository with another key to remove it");
  if (!backend_->size({ObjectType::kKey, name}))
    throw Error(ErrorCode::kNotFound, "no key " + name + " in " + backend_->location());
  backend_->remove({ObjectType::kKey, name});
}

}  // namespace lifeboat::repo
