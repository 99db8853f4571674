// A writer's side of deleting while others write (docs/ARCHITECTURE.md
// "Prune: deleting while others write"). Every process that may save a
// snapshot holds a WriterRegistration from before it first deduplicates
// until its last snapshot is saved:
//
// 1. it writes a marker (locks/), durable before anything else;
// 2. it reads the prune plans present and excludes their packs from
//    deduplication (Repository::exclude_from_dedup): what it stores never
//    relies on a pack a prune has already decided to delete;
// 3. it renews the marker (every kMarkerRenewEvery), naming those plans, so
//    a prune knows this writer cannot rely on their packs — and waits for
//    it before deleting packs of any plan it does not name;
// 4. every snapshot it saves first passes check_fresh() (installed as the
//    repository's snapshot guard): a writer whose marker went unrenewed
//    for long (suspended, cut off) may have been judged dead and must not
//    save a snapshot, even after it renews again;
// 5. it removes its marker when done (best effort; prune clears leftovers).
//
// Register before loading the index (Repository::load_index): an index read
// earlier could still list packs a prune deleted, together with its plan,
// between that read and the registration.
#pragma once

#include <memory>
#include <string>

#include "repo/lock_renewer.h"
#include "repo/repository.h"

namespace lifeboat::repo {

struct WriterRegistrationOptions {
  int64_t renew_every_ns = kMarkerRenewEvery;
  int64_t commit_within_ns = kMarkerCommitWithin;
};

class WriterRegistration {
 public:
  // Steps 1-3. Throws what writing the first marker throws (a writer that
  // cannot register does not write).
  WriterRegistration(Repository& repo, std::string what, WriterRegistrationOptions options = {});
  ~WriterRegistration();
  WriterRegistration(const WriterRegistration&) = delete;
  WriterRegistration& operator=(const WriterRegistration&) = delete;

  // Throws Error(kUnavailable) naming the repository when the marker went
  // unrenewed for longer than commit_within_ns at any point.
  void check_fresh() const;

  const std::string& run() const { return marker_->record().run; }
  size_t plans_excluded() const { return marker_->record().plans.size(); }

 private:
  Repository& repo_;
  WriterRegistrationOptions options_;
  std::unique_ptr<LockRenewer> marker_;
};

}  // namespace lifeboat::repo
