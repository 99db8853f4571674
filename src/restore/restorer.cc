// run_restore is a batch of one item restored into the target itself
// (batch.h has the passes).
#include "restore/restorer.h"

#include "restore/batch.h"

namespace lifeboat::restore {

RestoreResult run_restore(repo::Repository& repo, const Id& root_tree, const std::string& target,
                          const RestoreOptions& options) {
  BatchOptions batch;
  batch.restore = options;
  if (options.on_error)
    batch.on_error = [&options](size_t, const std::string& path, const std::string& message) {
      options.on_error(path, message);
    };
  std::vector<SourceStats> sources;
  batch.source_stats = &sources;
  std::vector<ItemResult> results = run_batch(repo, target, {BatchItem{"", root_tree}}, batch);
  RestoreResult r = results[0].counts;
  r.mismatches = results[0].mismatches;
  r.sources = std::move(sources);
  return r;
}

}  // namespace lifeboat::restore
