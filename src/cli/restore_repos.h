// The repositories `restore` and `node restore` read from: every --repo
// given (copies holding the same snapshots). With one --repo this is
// open_repository and nothing else: errors stop the command as always.
//
// With several, each is opened (in parallel) with its own password
// (--repo-password-file in the same position, else the common password);
// one that cannot be opened, or does not share the primary's id key (its
// blob ids would not match), is warned about and left out — a tier that is
// down during a disaster must not stop the restore. Only when none can be
// opened does the first one's error stop the command.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "repo/repository.h"
#include "restore/sources.h"

namespace lifeboat::cli {

struct RestoreRepos {
  bool several = false;  // more than one --repo was given
  // Usable repositories, in --repo order until choose_primary moves the
  // primary first.
  std::vector<std::unique_ptr<repo::Repository>> repos;
  std::vector<std::pair<std::string, std::string>> unusable;  // (location, why)

  repo::Repository& primary() const { return *repos[0]; }
  std::vector<repo::Repository*> more() const;

  // Makes the first repository for which `has` returns true (the one that
  // holds the requested snapshot) the primary and drops, with a warning,
  // those whose id key differs from it. `has` may throw: an Error of the
  // first repository is rethrown if no repository has what is asked for.
  void choose_primary(const std::function<bool(repo::Repository&)>& has);
};

RestoreRepos open_restore_repos(const GlobalOptions& g);

// "repositories": one object per --repo: location, primary, bytes, reads,
// failures, fallbacks, mb_per_s; or location and error for one not used.
Json restore_repos_json(const RestoreRepos& r, const std::vector<restore::SourceStats>& stats);
// One line per repository for the human summary.
std::string restore_repos_text(const RestoreRepos& r,
                               const std::vector<restore::SourceStats>& stats);

}  // namespace lifeboat::cli
