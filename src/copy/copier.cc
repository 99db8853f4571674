#include "copy/copier.h"

#include <mutex>
#include <unordered_set>

#include "copy/blob_transfer.h"
#include "repo/tree_loader.h"

namespace lifeboat::copy {

Destination prepare_destination(repo::Repository& dst) {
  Destination d;
  d.repo = &dst;
  dst.require_intact_config();
  d.writer = std::make_unique<repo::WriterRegistration>(dst, "copy");
  dst.load_index();
  dst.forget_missing_packs();
  for (const auto& [id, s] : dst.list_snapshots()) d.snapshots.emplace(snapshot_identity(s), id);
  return d;
}

namespace {

using repo::BlobType;

class Copier {
 public:
  Copier(const repo::Repository& src, Destination& dst, const CopyOptions& options)
      : src_(src),
        dst_(*dst.repo),
        dest_(dst),
        options_(options),
        progress_(options.progress != nullptr ? *options.progress : own_progress_),
        pacer_(options.flush_every_bytes) {
    transfer_.threads = options.transfer_threads;
    transfer_.limits = options.limits;
    transfer_.stop = options.stop;
  }

  CopyReport run(const SnapshotList& snapshots) {
    progress_.snapshots_total += snapshots.size();
    // Source snapshot id -> destination id, to carry `parent` over.
    std::unordered_map<Id, Id, IdHash> mapped;
    for (const auto& [src_id, s] : snapshots) {
      if (stopped()) {
        report_.interrupted = true;
        break;
      }
      SnapshotOutcome out;
      out.source_id = src_id;
      out.snapshot = s;
      if (auto it = dest_.snapshots.find(snapshot_identity(s)); it != dest_.snapshots.end()) {
        out.kind = SnapshotOutcome::Kind::kSkipped;
        out.destination_id = it->second;
      } else {
        copy_one(s, mapped, out);
      }
      if (out.kind == SnapshotOutcome::Kind::kCopied && !out.destination_id) {
        report_.interrupted = true;  // stopped inside: its blobs are flushed, it is not saved
        break;
      }
      if (out.destination_id) mapped[src_id] = *out.destination_id;
      finish(std::move(out));
    }
    report_.trees_walked = progress_.trees_walked;
    report_.blobs_sent = progress_.sent.blobs;
    report_.bytes_sent = progress_.sent.bytes;
    report_.bytes_stored = progress_.sent.bytes_stored;
    return std::move(report_);
  }

 private:
  bool stopped() const { return options_.stop != nullptr && options_.stop->load(); }

  void finish(SnapshotOutcome out) {
    switch (out.kind) {
      case SnapshotOutcome::Kind::kCopied: ++report_.copied; break;
      case SnapshotOutcome::Kind::kSkipped: ++report_.skipped; break;
      case SnapshotOutcome::Kind::kFailed: ++report_.failed; break;
    }
    ++progress_.snapshots_done;
    if (options_.on_snapshot) options_.on_snapshot(out);
    report_.snapshots.push_back(std::move(out));
  }

  void copy_one(const repo::Snapshot& s,
                const std::unordered_map<Id, Id, IdHash>& mapped, SnapshotOutcome& out) {
    const uint64_t blobs_before = progress_.sent.blobs, bytes_before = progress_.sent.bytes;
    std::unordered_set<Id, IdHash> walked_now;
    try {
      send_trees_and_blobs(s.tree, walked_now);
    } catch (const SourceError& e) {
      // The flush keeps what was sent; its trees stay unwalked, so a later
      // snapshot sharing them walks (and fails on) them again.
      dst_.flush();
      pacer_.flushed_at(progress_.sent.bytes_stored);
      out.kind = SnapshotOutcome::Kind::kFailed;
      out.error = e.message();
      return;
    }
    // Law 2: the blobs are durable and indexed before the snapshot names them.
    dst_.flush();
    pacer_.flushed_at(progress_.sent.bytes_stored);
    out.blobs_sent = progress_.sent.blobs - blobs_before;
    out.bytes_sent = progress_.sent.bytes - bytes_before;
    if (stopped()) return;  // the walk or transfer may have ended early
    walked_.merge(walked_now);

    repo::Snapshot copy = s;
    copy.parent.reset();
    if (s.parent)
      if (auto it = mapped.find(*s.parent); it != mapped.end()) copy.parent = it->second;
    // The writer registration's guard checks its marker before saving.
    out.destination_id = dst_.save_snapshot(copy);
    dest_.snapshots.emplace(snapshot_identity(s), *out.destination_id);
  }

  // Walks the snapshot's trees, storing the trees the destination lacks and
  // sending the data blobs it lacks in batches.
  void send_trees_and_blobs(const Id& root, std::unordered_set<Id, IdHash>& walked_now) {
    std::mutex mu;  // guards `missing` and `walked_now`
    std::vector<Id> missing;
    // Trees of one pack are read together (repo/tree_loader.h): a remote
    // source costs a few hundred requests, not one per directory.
    auto visit = [&](const Id& id, const repo::LoadedTree& loaded, std::vector<Id>& subtrees) {
      if (stopped()) return;
      if (!loaded.ok) {
        const ErrorCode code = loaded.failure->code();
        if (code == ErrorCode::kNotFound || code == ErrorCode::kCorrupt) throw SourceError(*loaded.failure);
        throw Error(*loaded.failure);
      }
      repo::Tree tree;
      try {
        tree = repo::decode_tree(loaded.plaintext);
      } catch (const Error& e) {
        throw SourceError(Error(ErrorCode::kCorrupt, "tree " + id.hex() + " in " + src_.location() + ": " + e.message()));
      }
      std::vector<Id> lacking;
      for (const repo::Node& n : tree.nodes) {
        if (n.type == repo::NodeType::kDir && !n.subtree.is_zero()) subtrees.push_back(n.subtree);
        for (const repo::ContentPart& p : n.content)
          if (!p.is_hole() && !dst_has(p.blob)) lacking.push_back(p.blob);
      }
      if (!dst_has(id)) dst_.save_blob(BlobType::kTree, id, loaded.plaintext, &progress_.sent);
      ++progress_.trees_walked;
      std::lock_guard lock(mu);
      walked_now.insert(id);
      missing.insert(missing.end(), lacking.begin(), lacking.end());
    };
    auto after_slice = [&] {
      pacer_.maybe_flush(dst_, progress_.sent);
      if (missing.size() < options_.batch_blobs) return;
      transfer_blobs(src_, dst_, std::move(missing), transfer_, progress_.sent, pacer_);
      missing.clear();
    };
    // A tree walked for a snapshot copied earlier in this run is complete in DST.
    repo::walk_loaded_trees(src_, {root}, visit, options_.tree_threads,
                            [&](const Id& t) { return stopped() || walked_.contains(t); }, after_slice);
    transfer_blobs(src_, dst_, std::move(missing), transfer_, progress_.sent, pacer_);
  }

  const repo::Repository& src_;
  repo::Repository& dst_;
  // DST holds the blob in a pack no prune plans to delete.
  bool dst_has(const Id& id) const { return dst_.index().contains(id) && dst_.can_reference(id); }
  Destination& dest_;
  const CopyOptions& options_;
  CopyProgress own_progress_;
  CopyProgress& progress_;
  FlushPacer pacer_;
  TransferOptions transfer_;
  // Trees whose every blob is in the destination (walked for a snapshot
  // that was copied in this run).
  std::unordered_set<Id, IdHash> walked_;
  CopyReport report_;
};

}  // namespace

CopyReport copy_snapshots(const repo::Repository& src, Destination& dst,
                          const SnapshotList& snapshots, const CopyOptions& options) {
  Copier copier(src, dst, options);
  return copier.run(snapshots);
}

}  // namespace lifeboat::copy
