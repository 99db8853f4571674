#include "repo/writer_registration.h"

#include <unordered_set>

#include "base/error.h"

namespace lifeboat::repo {

WriterRegistration::WriterRegistration(Repository& repo, std::string what,
                                       WriterRegistrationOptions options)
    : repo_(repo), options_(options) {
  LockRecord record;
  record.kind = LockKind::kWriter;
  record.run = new_run_id();
  record.what = std::move(what);
  record.started = now_unix_nanos();
  fill_process_identity(record);
  // 1. The marker is durable before we read the plans: a prune that writes
  // a plan after this either lists our marker (and waits for us) or wrote
  // its plan before we read them (and we exclude its packs).
  marker_ = std::make_unique<LockRenewer>(repo_, std::move(record), options_.renew_every_ns);
  // 2. The plans present now. An unreadable plan is one we do not name:
  // prune then waits for us before acting on it, which is safe.
  LockDirectory dir = read_lock_directory(repo_.backend(), repo_.keys().encryption);
  std::unordered_set<Id, IdHash> excluded;
  std::vector<Id> plans;
  for (const auto& plan : dir.plans()) {
    plans.push_back(plan.plan_id);
    excluded.insert(plan.packs.begin(), plan.packs.end());
  }
  repo_.exclude_from_dedup(excluded);
  // 3. From now on the marker names them.
  marker_->rewrite([&](LockRecord& r) {
    r.plans = std::move(plans);
    r.ready = true;
  });
  marker_->start();
  repo_.set_snapshot_guard([this] { check_fresh(); });
}

WriterRegistration::~WriterRegistration() { repo_.set_snapshot_guard({}); }

void WriterRegistration::check_fresh() const {
  if (marker_->fresh(options_.commit_within_ns)) return;
  throw Error(ErrorCode::kUnavailable,
              "the writer marker of this run in " + repo_.location() +
                  " went unrenewed for too long (process suspended or repository unreachable), so a "
                  "concurrent prune may have judged it dead and deleted data it relies on; the "
                  "snapshot was not saved: run the backup again");
}

}  // namespace lifeboat::repo
