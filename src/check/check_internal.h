// Internals of the checker (not part of the check/ interface): the state the
// passes share, and the passes themselves, one file per group:
//   check_objects.cc  keys, config, index segments, snapshot objects
//   check_packs.cc    pack existence, size and trailer; unreferenced packs; read-data
//   check_trees.cc    the snapshot tree walk and the attribution of damage
//
// Thread safety: passes run one after another on the calling thread; a pass
// may fan out reads to a ThreadPool, and then every write to shared state
// (report_, culprits_, ...) goes through mu_.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "check/checker.h"
#include "repo/index.h"
#include "repo/pack.h"

namespace lifeboat::check::detail {

// What one index segment (or, for unreferenced packs, the trailer) says a
// pack holds.
struct PackListing {
  repo::PackSalt salt{};
  std::vector<repo::PackEntry> entries;  // sorted by offset
  std::string source;                    // segment name, or "trailer"
};

// A pack's salt and decoded trailer.
struct PackTail {
  repo::PackSalt salt{};
  std::vector<repo::PackEntry> entries;  // sorted by offset
};

// Where a blob can be read from: the repository's index, else the trailer of
// a pack no index lists.
struct Located {
  repo::BlobLocation loc;
  bool unindexed = false;
};

class Checker {
 public:
  Checker(repo::Repository& repo, const CheckOptions& options);
  CheckReport run();

 private:
  // ---- passes (in run order) ----
  void check_config();                 // check_objects.cc
  void check_keys();                   // check_objects.cc
  void list_snapshot_names();          // check_objects.cc
  void check_index_segments();         // check_objects.cc
  void list_packs();                   // check_packs.cc
  void check_indexed_packs();          // check_packs.cc
  void check_unreferenced_packs();     // check_packs.cc
  void judge_damaged_segments();       // check_packs.cc
  void load_snapshots();               // check_objects.cc
  void walk_trees();                   // check_trees.cc
  void read_data();                    // check_packs.cc
  void attribute();                    // check_trees.cc
  void finish();                       // checker.cc

  // ---- helpers ----
  // Appends a problem and returns its index (stable: problems are only
  // appended). Thread-safe.
  size_t add_problem(Problem p);
  void add_warning(std::string w);
  // Records that losing `id` (a blob or tree) is explained by problem `p`.
  // Caller holds mu_.
  void blame_locked(const Id& id, size_t p) { culprits_[id].push_back(p); }
  // Blames, for every entry of `pack` the lookup locates in that pack, the
  // problem `p` (so duplicates stored intact elsewhere are not blamed).
  void blame_pack_entries(const Id& pack, const std::vector<repo::PackEntry>& entries, size_t p,
                          const std::function<bool(const repo::PackEntry&)>& lost);

  // Records that snapshots need `blob` from `pack`, which no index lists.
  void note_unindexed(const Id& blob, const Id& pack);
  // Walk step: loads one tree, reports it if missing or damaged, and returns
  // its subtrees and data blobs.
  bool walk_one(const Id& tree, std::vector<Id>& subtrees, std::vector<Id>& blobs);
  // Attribution step: adds snapshot `sid` and the paths under `dir` to every
  // problem that explains a loss inside `tree`. Returns whether `tree` holds
  // any such loss; `clean` memoizes the trees that hold none.
  bool attribute_tree(const Id& tree, const std::string& dir, bool top, const Id& sid,
                      std::unordered_map<Id, bool, IdHash>& clean);
  void blame_path(const Id& id, const Id& sid, const std::string& path);

  std::optional<Located> locate(const Id& blob) const;
  // Reads and decodes one tree blob. Throws Error.
  repo::Tree load_tree(const Id& id, const repo::BlobLocation& loc) const;
  // Reads footer and trailer from the end of a pack of `size` bytes: from
  // `tail` if given (it ends at the end of the pack), else with one ranged
  // read of `guess` bytes; the trailer is fetched separately if that does
  // not hold it. Throws Error.
  PackTail read_tail(const Id& pack, uint64_t size, ByteView tail, uint64_t guess = 16u << 10) const;
  size_t threads() const { return options_.threads; }

  repo::Repository& repo_;
  backend::Backend& backend_;
  CheckOptions options_;

  std::mutex mu_;
  CheckReport report_;

  std::vector<std::string> snapshot_names_;
  std::vector<std::pair<std::string, std::string>> damaged_segments_;  // (name, why); guarded by mu_
  std::vector<std::pair<Id, repo::Snapshot>> snapshots_;   // those that decode
  std::map<Id, PackListing> listings_;                    // packs the index lists
  std::unordered_map<Id, uint64_t, IdHash> pack_sizes_;   // data/ objects
  std::map<Id, PackListing> unreferenced_;                // packs no index lists (trailer read)
  repo::Index unreferenced_index_;                        // their blobs
  // Listed packs whose trailer contradicts (or has more than) their listing:
  // readers fall back to the trailer, so the check judges by it too.
  std::map<Id, PackListing> trailer_views_;  // guarded by mu_ while filled
  repo::Index trailer_index_;                // their blobs, as the trailers say
  // Blobs and trees whose loss is explained by problems (indices into
  // report_.problems). Only damaged things are here: bounded by the damage.
  std::unordered_map<Id, std::vector<size_t>, IdHash> culprits_;
  // Index problem per unreferenced pack whose blobs snapshots need.
  std::unordered_map<Id, size_t, IdHash> unindexed_problem_;
};

// "/" + name at the root, parent + "/" + name below.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace lifeboat::check::detail
