#include "prune/pruner.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "base/thread_pool.h"
#include "crypto/random.h"
#include "prune/lock_renewal.h"
#include "prune/prune_lock.h"
#include "repo/lock_renewer.h"
#include "repo/tree_loader.h"

namespace lifeboat::prune {

using backend::ObjectType;
using repo::BlobLocation;
using repo::LockDirectory;
using repo::LockKind;
using repo::LockRecord;
using repo::PackInfo;
using repo::Repository;
using IdSet = std::unordered_set<Id, IdHash>;

namespace {

void set_phase(PruneProgress* p, PrunePhase phase, uint64_t total) {
  if (!p) return;
  p->done = 0;
  p->total = total;
  p->phase = phase;
}

void advance(PruneProgress* p, uint64_t n = 1) {
  if (p) p->done.fetch_add(n, std::memory_order_relaxed);
}

// The blobs snapshots need: one sorted vector (32 bytes per blob), grown
// by walks over snapshot trees. A tree already in it was walked before,
// with everything below it.
class UsedBlobs {
 public:
  bool contains(const Id& id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  size_t size() const { return ids_.size(); }

  // Trees of one pack are read together (repo/tree_loader.h): a remote
  // repository costs a few hundred requests, not one per directory.
  void walk(Repository& repo, const std::vector<Id>& roots, PruneProgress* progress) {
    std::mutex mu;
    std::vector<Id> found;
    auto compact = [&] {
      std::sort(found.begin(), found.end());
      found.erase(std::unique(found.begin(), found.end()), found.end());
    };
    auto visit = [&](const Id& id, const repo::LoadedTree& loaded, std::vector<Id>& subtrees) {
      repo::Tree tree;
      try {
        if (!loaded.ok) throw *loaded.failure;
        tree = repo::decode_tree(loaded.plaintext);
      } catch (const Error& e) {
        // Trouble reaching the repository is not damage: say what it is.
        if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
        throw Error(ErrorCode::kCorrupt,
                    "tree " + id.hex() + " cannot be read (" + e.message() +
                        "); prune deletes nothing while it cannot tell what a snapshot needs: run "
                        "'lifeboat check', then 'lifeboat repair snapshots' or forget the snapshots "
                        "that need it");
      }
      std::vector<Id> blobs;
      blobs.push_back(id);
      for (const auto& node : tree.nodes) {
        if (node.type == repo::NodeType::kDir && !node.subtree.is_zero()) subtrees.push_back(node.subtree);
        for (const auto& part : node.content)
          if (!part.is_hole()) blobs.push_back(part.blob);
      }
      std::lock_guard lock(mu);
      found.insert(found.end(), blobs.begin(), blobs.end());
      if (found.size() > (1u << 22)) compact();  // duplicates across trees stay bounded
      advance(progress);
    };
    // A tree already in the set was walked by an earlier pass, with everything below it.
    repo::walk_loaded_trees(repo, roots, visit, 8, [&](const Id& t) { return contains(t); });
    compact();
    std::vector<Id> merged;
    merged.reserve(ids_.size() + found.size());
    std::set_union(ids_.begin(), ids_.end(), found.begin(), found.end(), std::back_inserter(merged));
    ids_ = std::move(merged);
  }

 private:
  std::vector<Id> ids_;
};

// Snapshot roots by snapshot id. An unreadable snapshot stops the prune:
// without it we cannot know what it needs.
std::map<Id, Id> read_snapshot_roots(Repository& repo) {
  std::vector<Id> ids;
  repo.backend().list(ObjectType::kSnapshot, [&](std::string_view name, uint64_t) {
    if (auto id = Id::from_hex(name)) ids.push_back(*id);
  });
  std::vector<std::optional<Id>> roots(ids.size());
  std::mutex mu;
  std::optional<Error> failure;
  ThreadPool pool(std::min<size_t>(8, std::max<size_t>(1, ids.size())));
  for (size_t i = 0; i < ids.size(); ++i) {
    pool.submit([&, i] {
      try {
        roots[i] = repo.load_snapshot(ids[i]).tree;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound) return;  // forgotten meanwhile
        std::lock_guard lock(mu);
        if (!failure)
          failure = Error(ErrorCode::kCorrupt,
                          "snapshot " + ids[i].hex() + " cannot be read (" + e.message() +
                              "); prune deletes nothing while it cannot tell what a snapshot needs: "
                              "run 'lifeboat check', then 'lifeboat repair snapshots' or forget it");
      }
    });
  }
  pool.wait();
  if (failure) throw *failure;
  std::map<Id, Id> out;
  for (size_t i = 0; i < ids.size(); ++i)
    if (roots[i]) out.emplace(ids[i], *roots[i]);
  return out;
}

std::vector<Id> roots_of(const std::map<Id, Id>& snaps, const std::map<Id, Id>* except = nullptr) {
  std::vector<Id> out;
  for (const auto& [snap, root] : snaps)
    if (!except || !except->count(snap)) out.push_back(root);
  return out;
}


class Pruner {
 public:
  Pruner(Repository& repo, const PruneOptions& options, PruneProgress* progress)
      : repo_(repo), options_(options), progress_(progress) {}

  PruneReport run() {
    if (!options_.dry_run) require_delete_permission();
    std::optional<PruneLock> lock;
    if (!options_.dry_run) lock.emplace(repo_, "prune", options_.stale_after_ns);
    own_run_ = lock ? lock->run() : "";

    // 2. Writers and plans, read before the snapshots: a writer gone by now
    // has its snapshot listed below.
    LockDirectory dir = read_locks();

    set_phase(progress_, kPhaseIndex, 0);
    load_index();
    set_phase(progress_, kPhaseWalk, 0);
    snapshots_ = read_snapshot_roots(repo_);
    report_.snapshots = snapshots_.size();
    used_.walk(repo_, roots_of(snapshots_), progress_);
    report_.blobs_used = used_.size();

    // 4. Earlier plans every live writer knows.
    std::vector<LockRecord> ready;
    for (const auto& plan : dir.plans()) {
      for (const Id& p : plan.packs) planned_.insert(p);
      if (plan_ready(plan, dir)) {
        ready.push_back(plan);
      } else {
        ++report_.plans_waiting;
        for (const Id& p : plan.packs) {
          auto it = present_.find(p);
          if (it == present_.end()) continue;
          ++report_.packs_waiting;
          report_.bytes_waiting += it->second;
        }
      }
    }
    if (!ready.empty()) carry_out(ready);

    // 5. A new plan for what is unused now.
    std::optional<LockRecord> plan = make_plan();

    // 6. No writer running: nobody can rely on the new plan's packs.
    if (plan) {
      LockDirectory now_dir = read_locks(false);
      if (plan_ready(*plan, now_dir)) {
        // Writers that ended since step 3 saved their index segments (and
        // snapshots) before removing their markers: read both again, so a
        // segment listing a pack we delete is rewritten too.
        load_new_segments();
        std::map<Id, Id> latest = read_snapshot_roots(repo_);
        used_.walk(repo_, roots_of(latest, &snapshots_), progress_);
        snapshots_ = std::move(latest);
        carry_out({*plan});
      } else {
        ++report_.plans_waiting;
        report_.packs_waiting += plan->packs.size();
        report_.bytes_waiting += report_.bytes_planned;
      }
      if (!options_.dry_run) remove_dead_records(now_dir);
    } else if (!options_.dry_run) {
      remove_dead_records(read_locks(false));
    }
    if (!options_.dry_run) abandon_stale_uploads();
    if (!options_.dry_run && repo_.backend().lock_period_seconds() > 0) renew_retention(plan);
    std::sort(report_.waiting_for.begin(), report_.waiting_for.end());
    report_.waiting_for.erase(std::unique(report_.waiting_for.begin(), report_.waiting_for.end()),
                              report_.waiting_for.end());
    return report_;
  }

 private:
  // Append-only credentials would let prune repack and write a plan, then
  // fail at the first deletion: ask first, by removing a pack name that is
  // never used (all zeros; removing a missing object is no error).
  void require_delete_permission() {
    try {
      repo_.backend().remove({ObjectType::kData, std::string(64, '0')});
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kPermission) throw;
      throw Error(ErrorCode::kPermission,
                  "prune needs credentials that may delete, and " + repo_.location() +
                      " refused a deletion (" + e.message() +
                      "); run prune with the tier's prune credentials (docs/OPERATIONS.md "
                      "\"Append-only tiers\")");
    }
  }

  void abandon_stale_uploads() {
    try {
      report_.uploads_abandoned = repo_.backend().abort_stale_uploads(options_.abandon_uploads_after_seconds);
    } catch (const Error& e) {
      warn("stale multipart uploads in " + repo_.location() + " not abandoned: " + e.message());
    }
  }

  // Retention locks (lock_renewal.h) of everything that stays: packs in no
  // plan, and every other object but locks.
  void renew_retention(const std::optional<LockRecord>& plan) {
    IdSet leaving(planned_.begin(), planned_.end());
    if (plan) leaving.insert(plan->packs.begin(), plan->packs.end());
    std::vector<backend::Handle> objects = metadata_objects(repo_.backend());
    for (const auto& [id, size] : present_)
      if (!leaving.count(id)) objects.push_back({ObjectType::kData, id.hex()});
    const LockRenewal r = prune::renew_locks(repo_.backend(), objects, options_.warn);
    report_.locks_checked = r.checked;
    report_.locks_renewed = r.renewed;
  }

  void warn(const std::string& m) {
    if (options_.warn) options_.warn(m);
  }

  LockDirectory read_locks(bool report_unreadable = true) {
    LockDirectory dir = repo::read_lock_directory(repo_.backend(), repo_.keys().encryption);
    if (report_unreadable)
      for (const auto& n : dir.unreadable) {
        report_.unreadable.push_back("locks/" + n);
        warn("lock record " + n +
             " cannot be read; no plan is carried out while it is there (it could be a running "
             "writer's): remove it if no backup is running");
      }
    return dir;
  }

  void load_new_segments() {
    std::vector<std::string> fresh;
    repo_.backend().list(ObjectType::kIndex, [&](std::string_view name, uint64_t) {
      if (!segments_.count(std::string(name))) fresh.emplace_back(name);
    });
    std::vector<PackInfo> all;
    for (const auto& name : fresh) {
      try {
        Bytes sealed = repo_.backend().load({ObjectType::kIndex, name});
        auto packs = repo::decode_index_segment(repo_.keys().encryption, sealed, name);
        auto& ids = segments_[name];
        for (auto& p : packs) {
          ids.push_back(p.id);
          all.push_back(std::move(p));
        }
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
      }
    }
    if (!all.empty()) repo_.index().add_packs(all);
  }

  bool plan_ready(const LockRecord& plan, const LockDirectory& dir) {
    bool ready = dir.unreadable.empty();
    const UnixNanos now = now_unix_nanos();
    for (const auto& w : dir.latest(LockKind::kWriter)) {
      if (repo::lock_record_stale(w, now, options_.stale_after_ns)) continue;
      bool knows = w.ready && std::find(w.plans.begin(), w.plans.end(), plan.plan_id) != w.plans.end();
      if (!knows) {
        ready = false;
        report_.waiting_for.push_back(describe_lock_holder(w));
      }
    }
    return ready;
  }

  void load_index() {
    repo_.load_index([&](const std::string& name, const std::vector<PackInfo>& packs) {
      auto& ids = segments_[name];
      for (const auto& p : packs) ids.push_back(p.id);
    });
    repo_.backend().list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
      if (auto id = Id::from_hex(name)) present_.emplace(*id, size);
    });
    // Packs no segment lists (an interrupted backup's, or a running one's
    // not indexed yet): their trailers say what they hold.
    auto unlisted = repo_.index_unlisted_packs();
    for (const auto& name : unlisted.unreadable) {
      auto id = Id::from_hex(name);
      if (id) unknown_.insert(*id);
      report_.unreadable.push_back("data pack " + name);
    }
    for (const auto& p : repo_.recovered_packs()) {
      recovered_.insert(p.id);
      for (const auto& e : p.entries) extra_.push_back({p.id, p.salt, e});
    }
    std::sort(extra_.begin(), extra_.end(),
              [](const BlobLocation& a, const BlobLocation& b) { return a.entry.id < b.entry.id; });
    report_.packs = present_.size();
    for (const auto& [id, size] : present_) report_.bytes += size;
    for (const auto& [id, size] : present_)
      if (!repo_.index().has_pack(id) && !recovered_.count(id)) unknown_.insert(id);
  }

  // Every blob location known: the index (with alternates) and the
  // trailers of unlisted packs.
  template <class Fn>
  void for_each_location(Fn&& fn) const {
    repo_.index().for_each([&](const BlobLocation& loc) { fn(loc); }, true);
    for (const auto& loc : extra_) fn(loc);
  }

  // A copy of `blob` in a present pack outside `excluded`.
  bool has_copy_outside(const Id& blob, const IdSet& excluded) const {
    for (const auto& loc : repo_.index().find_all(blob))
      if (!excluded.count(loc.pack) && present_.count(loc.pack)) return true;
    auto first = std::lower_bound(extra_.begin(), extra_.end(), blob,
                                  [](const BlobLocation& a, const Id& b) { return a.entry.id < b; });
    for (auto it = first; it != extra_.end() && it->entry.id == blob; ++it)
      if (!excluded.count(it->pack) && present_.count(it->pack)) return true;
    return false;
  }

  // Step 4 for `plans`: index segments without their packs first, then the
  // packs, then the plans. A kill anywhere leaves at worst packs no index
  // lists (check accepts them) and plans the next prune finishes.
  void carry_out(const std::vector<LockRecord>& plans) {
    IdSet doomed;
    for (const auto& plan : plans)
      for (const Id& p : plan.packs)
        if (present_.count(p) && !unknown_.count(p)) doomed.insert(p);
    // A pack holding a blob a snapshot needs, with no copy outside the
    // doomed packs, stays (a writer that did not know the plan used it and
    // has ended since).
    IdSet kept_back;
    for_each_location([&](const BlobLocation& loc) {
      if (!doomed.count(loc.pack) || kept_back.count(loc.pack)) return;
      if (used_.contains(loc.entry.id) && !has_copy_outside(loc.entry.id, doomed)) kept_back.insert(loc.pack);
    });
    for (const Id& p : kept_back) doomed.erase(p);
    report_.packs_kept_back += kept_back.size();
    set_phase(progress_, kPhaseDelete, doomed.size());
    if (options_.dry_run) {
      report_.plans_done += plans.size();
      report_.packs_deleted += doomed.size();
      for (const Id& p : doomed) report_.bytes_deleted += present_[p];
      return;
    }
    rewrite_segments(doomed);
    ThreadPool pool(8);
    std::mutex mu;
    for (const Id& p : doomed) {
      pool.submit([&, p] {
        repo_.backend().remove({ObjectType::kData, p.hex()});
        std::lock_guard lock(mu);
        ++report_.packs_deleted;
        report_.bytes_deleted += present_[p];
        advance(progress_);
      });
    }
    pool.wait();
    for (const Id& p : doomed) present_.erase(p);
    for (const auto& plan : plans) {
      repo_.backend().remove({ObjectType::kLock, plan.name()});
      ++report_.plans_done;
    }
  }

  // Writes segments listing what the segments naming `doomed` list besides
  // them, then removes those segments. Small segments are merged into the
  // new ones on the way.
  void rewrite_segments(const IdSet& doomed) {
    std::vector<std::string> affected;
    size_t small = 0;
    for (const auto& [name, packs] : segments_) {
      bool hit = false;
      for (const Id& p : packs) hit = hit || doomed.count(p) || !present_.count(p);
      if (hit) affected.push_back(name);
      else if (packs.size() < 8) ++small;
    }
    if (affected.empty()) return;
    if (small >= 16)
      for (const auto& [name, packs] : segments_)
        if (packs.size() < 8 && std::find(affected.begin(), affected.end(), name) == affected.end())
          affected.push_back(name);
    IdSet written;
    std::vector<PackInfo> batch;
    size_t entries = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      repo_.save_index_segment(batch);
      ++report_.segments_written;
      batch.clear();
      entries = 0;
    };
    for (const auto& name : affected) {
      std::vector<PackInfo> packs;
      try {
        Bytes sealed = repo_.backend().load({ObjectType::kIndex, name});
        packs = repo::decode_index_segment(repo_.keys().encryption, sealed, name);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
        continue;  // gone or damaged: nothing of it to keep (never removed below)
      }
      for (auto& p : packs) {
        if (doomed.count(p.id) || !present_.count(p.id) || !written.insert(p.id).second) continue;
        entries += p.entries.size();
        batch.push_back(std::move(p));
        if (entries >= options_.segment_entries) flush();
      }
    }
    flush();
    // The new segments are durable: the old ones can go.
    for (const auto& name : affected) {
      repo_.backend().remove({ObjectType::kIndex, name});
      ++report_.segments_removed;
      segments_.erase(name);
    }
  }

  struct Census {
    uint64_t size = 0;
    uint64_t blob_bytes = 0;  // stored bytes of its blobs (the rest is headers and trailer)
    uint64_t used_bytes = 0;
    uint32_t blobs = 0;
    uint32_t used_blobs = 0;
  };

  std::optional<LockRecord> make_plan() {
    set_phase(progress_, kPhasePlan, 0);
    std::unordered_map<Id, Census, IdHash> census;
    for (const auto& [id, size] : present_)
      if (!planned_.count(id) && !unknown_.count(id)) census[id].size = size;
    // A needed blob stored twice (two nodes stored it at once, or a killed
    // repack left a copy) counts as needed in one pack only, so the other
    // copy can go.
    auto owner = [&](const Id& blob) -> std::optional<Id> {
      if (auto first = repo_.index().find(blob); first && census.count(first->pack)) return first->pack;
      for (const auto& loc : repo_.index().find_all(blob))
        if (census.count(loc.pack)) return loc.pack;
      auto it = std::lower_bound(extra_.begin(), extra_.end(), blob,
                                 [](const BlobLocation& a, const Id& b) { return a.entry.id < b; });
      for (; it != extra_.end() && it->entry.id == blob; ++it)
        if (census.count(it->pack)) return it->pack;
      return std::nullopt;
    };
    for_each_location([&](const BlobLocation& loc) {
      auto it = census.find(loc.pack);
      if (it == census.end()) return;
      ++it->second.blobs;
      it->second.blob_bytes += loc.entry.stored_length;
      if (used_.contains(loc.entry.id) && owner(loc.entry.id) == loc.pack) {
        ++it->second.used_blobs;
        it->second.used_bytes += loc.entry.stored_length;
      }
    });
    IdSet unused, repack;
    std::vector<Id> small;
    const uint64_t small_limit = static_cast<uint64_t>(options_.repack_small * repo_.config().pack_size);
    for (const auto& [id, c] : census) {
      if (c.used_blobs == 0) {
        unused.insert(id);
        report_.bytes_unused += c.size;
        continue;
      }
      const uint64_t unused_bytes = c.blob_bytes > c.used_bytes ? c.blob_bytes - c.used_bytes : 0;
      report_.bytes_unused += unused_bytes;
      if (static_cast<double>(unused_bytes) >= options_.repack_unused * static_cast<double>(c.blob_bytes))
        repack.insert(id);
      else if (c.size < small_limit)
        small.push_back(id);
    }
    if (small.size() >= 2) repack.insert(small.begin(), small.end());
    repack_toward_goal(census, repack);
    report_.packs_unused = unused.size();
    index_unlisted(census, repack);
    IdSet repacked = repack_packs(repack, unused);
    IdSet plan_packs = unused;
    plan_packs.insert(repacked.begin(), repacked.end());
    if (plan_packs.empty()) return std::nullopt;
    LockRecord plan;
    plan.kind = LockKind::kPlan;
    plan.run = repo::new_run_id();
    plan.seq = 1;
    plan.started = plan.time = now_unix_nanos();
    plan.what = "prune plan";
    repo::fill_process_identity(plan);
    plan.plan_id = Id::from_bytes(crypto::random_bytes(32).data());
    plan.packs.assign(plan_packs.begin(), plan_packs.end());
    std::sort(plan.packs.begin(), plan.packs.end());
    report_.packs_planned = plan.packs.size();
    for (const Id& p : plan.packs) report_.bytes_planned += present_[p];
    if (!options_.dry_run)
      repo_.backend().save({ObjectType::kLock, plan.name()},
                           repo::encode_lock_record(repo_.keys().encryption, plan));
    return plan;
  }

  // Adds to `repack` the packs with the largest unused fraction until what
  // stays unused is at most max_unused of what stays (used + unused), and
  // reports what stays unused.
  template <class Census>
  void repack_toward_goal(const Census& census, IdSet& repack) {
    uint64_t used = 0, left_unused = 0;
    std::vector<std::pair<double, Id>> candidates;  // unused fraction, pack
    auto unused_of = [](const auto& c) { return c.blob_bytes > c.used_bytes ? c.blob_bytes - c.used_bytes : 0; };
    for (const auto& [id, c] : census) {
      if (c.used_blobs == 0) continue;
      used += c.used_bytes;
      if (repack.count(id) || unused_of(c) == 0) continue;
      left_unused += unused_of(c);
      candidates.emplace_back(static_cast<double>(unused_of(c)) / static_cast<double>(c.blob_bytes), id);
    }
    if (options_.max_unused < 1) {
      // unused / (used + unused) <= m  <=>  unused <= used * m / (1 - m)
      const double allowed = static_cast<double>(used) * options_.max_unused / (1 - options_.max_unused);
      std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (const auto& [fraction, id] : candidates) {
        if (static_cast<double>(left_unused) <= allowed) break;
        repack.insert(id);
        left_unused -= unused_of(census.at(id));
      }
    }
    report_.bytes_unused_after = left_unused;
  }

  // Packs no segment lists that hold the only copy of needed blobs (a
  // killed repack's, an interrupted backup's whose snapshot another backup
  // completed) get a segment, so readers find them without a trailer search.
  template <class Census>
  void index_unlisted(const Census& census, const IdSet& repack) {
    if (options_.dry_run || recovered_.empty()) return;
    std::vector<PackInfo> listing;
    for (auto& p : repo_.recovered_packs()) {
      auto it = census.find(p.id);
      if (it != census.end() && it->second.used_blobs > 0 && !repack.count(p.id)) listing.push_back(std::move(p));
    }
    if (listing.empty()) return;
    repo_.save_index_segment(listing);
    ++report_.segments_written;
  }

  // Copies the needed blobs of `packs` into new packs (unless a copy lives
  // in a pack that stays) and returns the packs whose every needed blob now
  // has such a copy. Durable and indexed before returning.
  IdSet repack_packs(const IdSet& packs, const IdSet& unused) {
    IdSet done;
    if (packs.empty()) return done;
    // A copy counts only in a pack that stays: not planned before, not
    // repacked now, and not going as unused (a needed blob's second copy
    // makes a pack look unused: it is needed in one pack only).
    IdSet leaving = packs;
    leaving.insert(planned_.begin(), planned_.end());
    leaving.insert(unused.begin(), unused.end());
    std::unordered_map<Id, std::vector<BlobLocation>, IdHash> needed;
    for (const Id& p : packs) needed[p];
    for_each_location([&](const BlobLocation& loc) {
      auto it = needed.find(loc.pack);
      if (it == needed.end() || !used_.contains(loc.entry.id)) return;
      it->second.push_back(loc);
    });
    // A blob needed from two leaving packs is copied once.
    IdSet copying;
    uint64_t total = 0;
    for (auto& [pack, locs] : needed) {
      std::sort(locs.begin(), locs.end(),
                [](const BlobLocation& a, const BlobLocation& b) { return a.entry.offset < b.entry.offset; });
      std::erase_if(locs, [&](const BlobLocation& loc) {
        return has_copy_outside(loc.entry.id, leaving) || !copying.insert(loc.entry.id).second;
      });
      for (const auto& loc : locs) total += loc.entry.stored_length;
    }
    set_phase(progress_, kPhaseRepack, total);
    if (options_.dry_run) {
      for (const auto& [pack, locs] : needed) {
        done.insert(pack);
        ++report_.packs_repacked;
        report_.blobs_repacked += locs.size();
        for (const auto& loc : locs) report_.bytes_repacked += loc.entry.stored_length;
      }
      return done;
    }
    std::mutex mu;
    ThreadPool pool(2);
    for (auto& [pack, locs] : needed) {
      pool.submit([&, pack = pack, locs = &locs] {
        bool ok = true;
        uint64_t bytes = 0;
        try {
          std::vector<std::optional<Bytes>> blobs;
          if (!locs->empty()) blobs = repo_.load_blobs_in_one_read(*locs);
          for (size_t i = 0; i < locs->size(); ++i) {
            const BlobLocation& loc = (*locs)[i];
            Bytes plain = blobs[i] ? std::move(*blobs[i]) : repo_.load_blob(loc.entry.type, loc.entry.id);
            repo_.save_blob_copy(loc.entry.type, loc.entry.id, plain);
            bytes += loc.entry.stored_length;
            advance(progress_, loc.entry.stored_length);
          }
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
          ok = false;
          std::lock_guard lock(mu);
          report_.unreadable.push_back("data pack " + pack.hex());
          warn("pack " + pack.hex() + " not repacked: " + e.message() + " (run 'lifeboat check --read-data')");
        }
        std::lock_guard lock(mu);
        if (!ok) return;
        done.insert(pack);
        ++report_.packs_repacked;
        report_.blobs_repacked += locs->size();
        report_.bytes_repacked += bytes;
      });
    }
    pool.wait();
    repo_.flush();
    // The new packs hold the copies that let the old ones go.
    repo_.backend().list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
      if (auto id = Id::from_hex(name)) present_.emplace(*id, size);
    });
    return done;
  }

  // Superseded records of live runs, and every record of stale writers and
  // prunes: none can matter again.
  void remove_dead_records(const LockDirectory& dir) {
    const UnixNanos now = now_unix_nanos();
    std::map<std::string, uint64_t> newest;
    std::set<std::string> stale_runs;
    for (const auto& r : dir.records) {
      if (r.kind == LockKind::kPlan) continue;
      auto& n = newest[r.run];
      n = std::max(n, r.seq);
    }
    for (const auto& r : dir.latest(LockKind::kWriter))
      if (repo::lock_record_stale(r, now, options_.stale_after_ns)) stale_runs.insert(r.run);
    for (const auto& r : dir.latest(LockKind::kPrune))
      if (r.run != own_run_ && repo::lock_record_stale(r, now, options_.stale_after_ns)) stale_runs.insert(r.run);
    for (const auto& r : dir.records) {
      if (r.kind == LockKind::kPlan || r.run == own_run_) continue;
      if (!stale_runs.count(r.run) && r.seq == newest[r.run]) continue;
      try {
        repo_.backend().remove({ObjectType::kLock, r.name()});
        ++report_.records_removed;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound) throw;
      }
    }
  }

  Repository& repo_;
  const PruneOptions& options_;
  PruneProgress* progress_;
  PruneReport report_;
  std::string own_run_;
  UsedBlobs used_;
  std::map<Id, Id> snapshots_;
  std::map<std::string, std::vector<Id>> segments_;
  std::unordered_map<Id, uint64_t, IdHash> present_;
  std::vector<BlobLocation> extra_;  // blobs of unlisted packs (from their trailers), by blob id
  IdSet recovered_;                  // those packs
  IdSet unknown_;                    // packs whose contents we cannot tell: never touched
  IdSet planned_;                    // packs of every plan found at the start
};

}  // namespace

PruneReport prune(Repository& repo, const PruneOptions& options, PruneProgress* progress) {
  return Pruner(repo, options, progress).run();
}

}  // namespace lifeboat::prune
