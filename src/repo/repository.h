// A repository: backend + keys + config + index, and the blob store that ties
// them together. Everything above this layer stores and loads blobs and
// snapshots through here and never sees pack or object layout.
//
// Thread safety: everything may be used from many threads at once, including
// several backups sharing one Repository: flush() makes durable and indexed
// every blob whose save_blob call (or a concurrent call for the same blob)
// began before the flush did, whatever other threads keep saving meanwhile.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "base/bounded_queue.h"
#include "chunk/chunker.h"
#include "crypto/kdf.h"
#include "crypto/mac.h"
#include "repo/config.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/snapshot.h"
#include "repo/tree.h"

namespace lifeboat::repo {

struct RepositoryOptions {
  size_t packers = 2;          // packs under construction at once (one per busy worker)
  size_t upload_threads = 2;   // packs written to the backend at once
  size_t upload_queue = 2;     // finished packs waiting for an upload slot
  // Warnings (damaged index segment skipped, ...). Never prints by itself.
  std::function<void(const std::string&)> warn;
  // Open even when the config object is missing (not only damaged), as long
  // as a key opens: for `repair config`, which writes a new one.
  bool allow_missing_config = false;
};

// What one caller (one backup among several sharing the Repository) added:
// the blobs its own save_blob calls stored.
struct SaveTally {
  std::atomic<uint64_t> blobs{0};
  std::atomic<uint64_t> bytes{0};         // plaintext bytes
  std::atomic<uint64_t> bytes_stored{0};  // compressed and encrypted bytes
};

struct BlobStoreStats {
  uint64_t blobs_added = 0;
  uint64_t bytes_added = 0;   // plaintext bytes of new blobs
  uint64_t bytes_stored = 0;  // pack bytes written
  uint64_t packs_written = 0;
};

class Repository {
 public:
  // Creates a repository: config and a first key file. Throws
  // kAlreadyExists if `backend` already holds one. The master keys are
  // fresh random ones unless `keys` is given (a tier that shares another
  // repository's id and chunker keys: copy/shared_params.h).
  static void init(backend::Backend& backend, std::string_view password,
                   const crypto::KdfParams& kdf, const KeyFileInfo& key_info,
                   Config config = Config::make_new(),
                   const std::optional<MasterKeys>& keys = std::nullopt);

  // Opens with the first key file that accepts `password`. Throws
  // kNotARepository, kWrongPassword or kCorrupt with a message naming the
  // location. Does not load the index (see load_index). A damaged config
  // does not stop reading (nothing a restore needs is in it): the
  // repository opens with default settings and a warning, and writers call
  // require_intact_config().
  static std::unique_ptr<Repository> open(std::shared_ptr<backend::Backend> backend,
                                          std::string_view password,
                                          RepositoryOptions options = {});
  ~Repository();
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  backend::Backend& backend() { return *backend_; }
  std::string location() const { return backend_->location(); }
  const Config& config() const { return config_; }
  // The config object is damaged or missing: config() holds defaults.
  bool config_damaged() const { return config_damaged_; }
  // Throws kCorrupt (naming the repository and 'lifeboat repair config')
  // if the config is damaged: chunking new data with guessed parameters
  // would quietly stop it deduplicating against what is stored.
  void require_intact_config() const;
  // Replaces the config object (`repair config`): removes the old one, if
  // any, then writes `config`. Takes effect for repositories opened after.
  void replace_config(const Config& config);
  const MasterKeys& keys() const { return keys_; }
  const crypto::IdHasher& hasher() const { return *hasher_; }
  const chunk::GearTable& gear() const { return *gear_; }
  const std::string& key_name() const { return key_name_; }
  Index& index() { return index_; }
  const Index& index() const { return index_; }
  void warn(const std::string& message) const;

  // Reads every index segment into memory (in parallel). A segment that
  // cannot be read is skipped with a warning; returns the names skipped.
  // `each_segment`, if given, sees every segment read (from several
  // threads, one call at a time).
  using SegmentObserver = std::function<void(const std::string& name, const std::vector<PackInfo>&)>;
  std::vector<std::string> load_index(const SegmentObserver& each_segment = {});

  // Loads the index segments written since load_index (or the previous
  // refresh) by other processes — other nodes backing up into the same
  // repository right now — so what they stored is not stored again.
  // Returns the number of segments added. Unreadable ones are skipped
  // silently (load_index reports them; they will be read again next time).
  size_t refresh_index();

  // ---- the index is a cache (law 3) ----
  // Reads the trailers of the packs that no loaded index segment lists (in
  // parallel, each at most once per Repository) and keeps their blobs in a
  // second, recovered index that locate() and load_blob() consult after the
  // main one. A pack whose trailer cannot be read is warned about and
  // skipped. Thread-safe; concurrent callers wait for one pass.
  struct UnlistedPacks {
    size_t packs = 0;  // packs read (this call)
    size_t blobs = 0;  // blobs they hold
    std::vector<std::string> unreadable;  // packs whose trailer could not be read
  };
  UnlistedPacks index_unlisted_packs() const;
  // Where a blob is: the index, else the packs no index lists, else any
  // pack (a segment may list a pack but not all its blobs). Each of those
  // searches reads trailers once per Repository, with a warning saying what
  // was repaired; a blob found nowhere costs nothing after that.
  std::optional<BlobLocation> locate(const Id& blob) const;
  // Another place to read `blob` after reading it at `failed` did not work
  // (`why`: the pack is gone, short, or the blob there is damaged): the
  // pack's own trailer when the index entry is what is wrong, a copy in
  // another pack, or what the trailer searches of locate() find. Never
  // returns a location that failed before. Warns the first time it helps.
  std::optional<BlobLocation> relocate(const Id& blob, const BlobLocation& failed,
                                       const Error& why) const;
  // Reads and verifies the blob at `loc` (no fallback; see load_blob).
  Bytes load_blob_at(const BlobLocation& loc) const;
  // Loads `blob` from wherever else it is (relocate) after reading it at
  // `failed` did not work; rethrows the last failure when no place works.
  Bytes load_blob_elsewhere(const Id& blob, const BlobLocation& failed, const Error& why) const;
  // Drops the index entries of packs the backend no longer has, so a backup
  // stores their blobs again instead of naming blobs that are gone (a copy
  // in another pack takes over where there is one). Returns the packs dropped.
  // Lists the packs once per Repository: later calls (every account of a
  // node backup calls it) return 0 at once.
  size_t forget_missing_packs();
  // The blobs found in unlisted packs so far, by pack.
  std::vector<PackInfo> recovered_packs() const;
  // Writes one index segment listing `packs` (durable when it returns) and
  // adds them to the in-memory index. Returns the segment's name.
  std::string save_index_segment(const std::vector<PackInfo>& packs);

  // ---- blob store ----
  Id hash(ByteView plaintext) const { return hasher_->mac(plaintext); }

  // Stores the blob unless the repository already has it (or another thread
  // is storing it right now). Returns true if this call stored it. The blob
  // is durable and indexed only after flush(). A stored blob is counted in
  // `tally` if one is given.
  bool save_blob(BlobType type, const Id& id, ByteView plaintext, SaveTally* tally = nullptr);

  // Stores another copy of a blob the repository already has, in a new
  // pack (prune's repacking). Durable and indexed after flush().
  void save_blob_copy(BlobType type, const Id& id, ByteView plaintext);

  // Packs a prune plans to delete (repo/writer_registration.h): save_blob
  // no longer counts a blob as stored when its only copies are there, and
  // can_reference says whether a snapshot may name a blob without storing
  // it again. Reads are unaffected. Call before the first save.
  void exclude_from_dedup(const std::unordered_set<Id, IdHash>& packs);
  // True when a new snapshot may name `blob` without storing it: some copy
  // lies in a pack not excluded from deduplication. Cheap when nothing is
  // excluded (the common case: no prune plan pending).
  bool can_reference(const Id& blob) const;

  // Makes every blob saved before this call durable and indexed: waits until
  // blobs being compressed are in a pack, writes every open pack, waits for
  // those packs' uploads (not for packs other threads finish later) and
  // writes an index segment listing them. Packs are durable before the
  // segment, the segment before flush returns (law 2), so a snapshot saved
  // afterwards never names a blob that is not in the repository.
  void flush();

  // Loads and verifies one blob, from another copy or the pack's trailer
  // when the index points at a gone or damaged place (relocate). Throws
  // kNotFound if no pack has it, kCorrupt if no copy passes verification.
  Bytes load_blob(BlobType type, const Id& id) const;
  Tree load_tree(const Id& id) const;
  // Reads the blobs at `locs` — all in one pack, sorted by offset, close
  // together — with one ranged read and verifies each: one request instead
  // of one per blob (a restore's tree walk over a remote repository). An
  // entry is nullopt when that blob did not verify; the caller loads it
  // alone with load_blob's fallbacks. Throws what the read throws.
  std::vector<std::optional<Bytes>> load_blobs_in_one_read(const std::vector<BlobLocation>& locs) const;
  // Stores a tree blob (deduplicated like any blob) and returns its id.
  Id save_tree(const Tree& tree, SaveTally* tally = nullptr);

  BlobStoreStats stats() const;

  // ---- snapshots ----
  // Saves a snapshot, after the guard (if any) agreed: a WriterRegistration
  // installs one that refuses when its marker may have gone stale.
  Id save_snapshot(const Snapshot& snapshot);
  void set_snapshot_guard(std::function<void()> guard);
  Snapshot load_snapshot(const Id& id) const;
  // All readable snapshots, oldest first. Unreadable ones are warned about
  // and skipped.
  std::vector<std::pair<Id, Snapshot>> list_snapshots() const;
  // Resolves a full id or a unique prefix (at least 4 hex digits) or
  // "latest" (newest, optionally of one account). Throws kNotFound /
  // kInvalidArgument naming what was asked for.
  std::pair<Id, Snapshot> find_snapshot(const std::string& ref,
                                        const std::string& account = "") const;
  // Deletes the snapshot object only (`forget`): the data it references
  // stays until prune finds nothing needs it. A missing snapshot is not an
  // error; a backend that may not delete throws its kPermission error.
  void remove_snapshot(const Id& id);

  // ---- keys ----
  std::vector<KeyFileInfo> list_keys() const;
  std::string add_key(std::string_view password, const crypto::KdfParams& kdf,
                      const KeyFileInfo& info);
  void remove_key(const std::string& name);

 private:
  Repository(std::shared_ptr<backend::Backend> backend, MasterKeys keys, Config config,
             std::string key_name, RepositoryOptions options);

  struct FinishedPack {
    PackWriter::Finished pack;
    uint64_t ticket;  // in uploads_pending_ until written (or failed)
  };
  PackWriter* acquire_packer();
  void release_packer(PackWriter* packer, bool full);
  void upload_loop();
  void rethrow_upload_error();
  void write_unindexed_packs();

  std::shared_ptr<backend::Backend> backend_;
  MasterKeys keys_;
  Config config_;
  std::string key_name_;
  bool config_damaged_ = false;
  RepositoryOptions options_;
  std::unique_ptr<crypto::IdHasher> hasher_;
  std::unique_ptr<chunk::GearTable> gear_;
  Index index_;
  // Blobs of packs no index segment lists, read from their trailers: a
  // cache filled on demand, so mutable (lookups are const).
  mutable Index recovered_;
  mutable std::mutex recover_mu_;  // one trailer search at a time; guards what follows
  mutable std::vector<PackInfo> recovered_packs_;  // unlisted packs read
  mutable std::unordered_set<Id, IdHash> trailers_read_;
  mutable bool unlisted_searched_ = false;  // locate() read the unlisted packs
  mutable bool all_searched_ = false;       // ... and then every pack
  mutable std::unordered_set<Id, IdHash> gone_packs_;
  // Entries a read failed with: (pack, offset, stored length, raw length
  // and compression). The same bytes read as another entry (the trailer's)
  // are another attempt.
  using Place = std::tuple<Id, uint32_t, uint32_t, uint32_t>;
  static Place place_of(const BlobLocation& loc);
  mutable std::set<Place> bad_places_;
  mutable bool warned_relocation_ = false;
  std::once_flag missing_packs_checked_;
  // Segment names load_index/refresh_index have read (or this process wrote).
  std::mutex segments_mu_;
  std::unordered_set<std::string> segments_seen_;
  // Reads the trailers of the packs not read yet (listed ones too if
  // `listed`) into recovered_. recover_mu_ held.
  UnlistedPacks read_trailers_locked(bool listed) const;
  std::optional<BlobLocation> usable_locked(const Id& blob) const;
  size_t forget_missing_packs_now();
  // Writes one index segment (durable on return) and remembers its name.
  std::string write_segment(const std::vector<PackInfo>& packs);
  bool store_blob(BlobType type, const Id& id, ByteView plaintext, SaveTally* tally, bool copy);
  bool has_usable_copy(const Id& blob) const;
  // Packs excluded from deduplication (set once, before saving).
  std::unordered_set<Id, IdHash> dedup_excluded_;
  std::mutex guard_mu_;
  std::function<void()> snapshot_guard_;
  // Snapshots read so far (they never change).
  mutable std::mutex snapshot_cache_mu_;
  mutable std::unordered_map<Id, Snapshot, IdHash> snapshot_cache_;
  // Small objects (snapshots, index segments) loaded at once.
  static constexpr size_t kObjectLoadThreads = 16;
  // Blobs being saved but not yet uploaded and indexed.
  std::mutex inflight_mu_;
  std::unordered_set<Id, IdHash> inflight_;
  // Blobs claimed in inflight_ but not yet added to a packer, counted per
  // flush epoch (parity): a flush starts a new epoch and waits until the
  // previous one has none left. Guarded by inflight_mu_.
  uint64_t epoch_ = 0;
  uint64_t unpacked_[2] = {0, 0};
  std::condition_variable packed_cv_;

  // Packers: idle ones wait in `idle_packers_`.
  std::mutex packer_mu_;
  std::condition_variable packer_cv_;
  std::vector<std::unique_ptr<PackWriter>> packers_;
  std::vector<PackWriter*> idle_packers_;

  // Upload stage.
  BoundedQueue<FinishedPack> upload_queue_;
  std::vector<std::thread> uploaders_;
  std::mutex flush_mu_;    // one flush at a time: each takes every packer
  std::mutex segment_mu_;  // held while taking and writing unindexed packs
  mutable std::mutex upload_mu_;
  std::condition_variable upload_cv_;
  uint64_t next_upload_ = 0;          // ticket of the next finished pack
  std::set<uint64_t> uploads_pending_;  // tickets queued or being written
  std::exception_ptr upload_error_;
  std::vector<PackInfo> unindexed_packs_;  // durable packs not yet in a segment
  BlobStoreStats stats_;
};

}  // namespace lifeboat::repo
