// The daily restore test that replaces inspecting backups by hand: restore
// a sample of accounts (or all, or named ones) from their newest snapshots
// into a scratch directory, verify every byte and every piece of metadata
// against the snapshot (restore/verify.h), report per account, clean up.
// Meant for cron (docs/CLI.md "drill").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/id.h"
#include "repo/repository.h"

namespace lifeboat::node {

struct DrillOptions {
  std::string node;                   // "" = accounts of every node
  std::vector<std::string> accounts;  // only these (empty: a sample, or all)
  bool all = false;
  size_t sample = 5;                  // accounts drawn at random otherwise
  uint64_t seed = 0;                  // 0 = random
  std::string scratch;                // a directory to restore into (created, removed)
  bool keep = false;                  // leave the restored files for inspection
};

struct DrillAccount {
  std::string node, account;
  Id snapshot_id;
  UnixNanos snapshot_time = 0;
  bool ok = false;
  uint64_t files = 0, bytes = 0;
  uint64_t errors = 0, mismatches = 0;
  double seconds = 0;
  std::vector<std::string> problems;  // the first few messages
};

struct DrillResult {
  std::vector<DrillAccount> accounts;
  size_t ok = 0, failed = 0;
  double seconds = 0;
  std::string scratch;  // where it restored (removed unless keep)
};

// Throws Error(kNotFound) if there is nothing to drill (no snapshots, an
// unknown account). Needs the index loaded.
DrillResult run_drill(repo::Repository& repo, const DrillOptions& options);

}  // namespace lifeboat::node
