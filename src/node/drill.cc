#include "node/drill.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "base/error.h"
#include "node/node_restore.h"
#include "restore/batch.h"

namespace lifeboat::node {
namespace {

constexpr size_t kProblemsKept = 5;

}  // namespace

DrillResult run_drill(repo::Repository& repo, const DrillOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  // The newest complete snapshot of every (node, account), as a restore
  // would choose it.
  const auto all = repo.list_snapshots();
  std::map<std::string, bool> nodes;
  for (const auto& [id, s] : all)
    if (!s.account.empty() && (options.node.empty() || s.node == options.node)) nodes[s.node] = true;
  std::vector<std::pair<Id, repo::Snapshot>> chosen;
  for (const auto& [n, unused] : nodes)
    for (auto& e : newest_per_account(all, n, std::nullopt)) chosen.push_back(std::move(e));
  if (chosen.empty())
    throw Error(ErrorCode::kNotFound,
                "no account snapshots" + (options.node.empty() ? "" : " of node " + options.node) +
                    " in " + repo.backend().location() + " to drill");

  if (!options.accounts.empty()) {
    std::vector<std::pair<Id, repo::Snapshot>> named;
    for (const std::string& a : options.accounts) {
      size_t found = 0;
      for (const auto& e : chosen)
        if (e.second.account == a) {
          named.push_back(e);
          ++found;
        }
      if (found == 0)
        throw Error(ErrorCode::kNotFound, "no snapshot of account " + a + " to drill; see "
                                          "'lifeboat node status'");
    }
    chosen = std::move(named);
  } else if (!options.all && chosen.size() > options.sample) {
    std::mt19937_64 rng(options.seed ? options.seed : std::random_device{}());
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(options.sample);
  }

  DrillResult result;
  result.scratch = options.scratch.empty()
                       ? std::filesystem::temp_directory_path().string() + "/lifeboat-drill-" +
                             std::to_string(::getpid())
                       : options.scratch;
  std::vector<restore::BatchItem> items;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const repo::Snapshot& s = chosen[i].second;
    DrillAccount a;
    a.node = s.node;
    a.account = s.account;
    a.snapshot_id = chosen[i].first;
    a.snapshot_time = s.time;
    result.accounts.push_back(std::move(a));
    // Item directories are numbered: account names of different nodes may
    // be equal, and any name is safe this way.
    items.push_back(restore::BatchItem{std::to_string(i), s.tree});
  }

  restore::BatchOptions bo;
  bo.restore.verify = true;
  bo.restore.restore_owner = true;
  std::mutex mu;
  bo.on_error = [&](size_t i, const std::string& path, const std::string& message) {
    std::lock_guard lock(mu);
    auto& p = result.accounts[i].problems;
    if (p.size() < kProblemsKept) p.push_back(path + ": " + message);
  };
  auto cleanup = [&] {
    if (options.keep) return;
    std::error_code ec;
    std::filesystem::remove_all(result.scratch, ec);
  };
  std::vector<restore::ItemResult> restored;
  try {
    restored = restore::run_batch(repo, result.scratch, items, bo);
  } catch (...) {
    cleanup();
    throw;
  }
  for (size_t i = 0; i < restored.size(); ++i) {
    DrillAccount& a = result.accounts[i];
    const restore::ItemResult& r = restored[i];
    a.files = r.counts.files;
    a.bytes = r.counts.bytes;
    a.errors = r.counts.errors;
    a.mismatches = r.mismatches;
    a.ok = r.ok() && r.verified;
    if (r.failure && a.problems.empty()) a.problems.push_back(r.failure_message);
    a.seconds = static_cast<double>(r.finished_ns - r.started_ns) / 1e9;
    (a.ok ? result.ok : result.failed)++;
  }
  cleanup();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace lifeboat::node
