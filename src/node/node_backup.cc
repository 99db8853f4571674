#include "node/node_backup.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "backup/archiver.h"
#include "backup/file_reader.h"
#include "base/error.h"

namespace lifeboat::node {

std::optional<std::pair<Id, repo::Snapshot>> find_parent(
    const std::vector<std::pair<Id, repo::Snapshot>>& snapshots, const std::string& account,
    const std::string& node, const std::string& path) {
  for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) {
    const repo::Snapshot& s = it->second;
    if (s.account == account && s.node == node && s.paths.size() == 1 && s.paths[0] == path)
      return *it;
  }
  return std::nullopt;
}

const char* outcome_name(AccountOutcome o) {
  switch (o) {
    case AccountOutcome::kOk: return "ok";
    case AccountOutcome::kPartial: return "partial";
    case AccountOutcome::kFailed: return "failed";
  }
  return "failed";
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The absolute, symlink-free root, so paths (and parent lookups) are the
// same as those of `lifeboat backup ROOT/account`.
std::string resolve_root(const std::string& root) {
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf) == nullptr) throw_errno("node root " + root);
  return buf;
}

// Checks that an account's directory is there and is a directory; throws
// the account's error otherwise.
void check_account_dir(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) throw_errno("account directory " + path);
  if (!S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kInvalidArgument, "account directory " + path + " is not a directory");
}

}  // namespace

NodeBackupProgress::View NodeBackupProgress::view() const {
  std::lock_guard lock(mu_);
  View v = done_;
  for (const auto& [name, p] : running_) {
    v.files += p->files_done.load();
    v.bytes += p->bytes_done.load();
    v.bytes_read += p->bytes_read.load();
    v.errors += p->errors.load();
    v.running.emplace_back(name, p->bytes_done.load());
  }
  return v;
}

void NodeBackupProgress::start(size_t accounts, uint64_t bytes_expected) {
  std::lock_guard lock(mu_);
  done_.accounts_total = accounts;
  done_.bytes_expected = bytes_expected;
}

void NodeBackupProgress::account_started(const std::string& account,
                                         const backup::BackupProgress* progress) {
  std::lock_guard lock(mu_);
  running_.emplace_back(account, progress);
}

void NodeBackupProgress::account_done() {
  std::lock_guard lock(mu_);
  ++done_.accounts_done;
}

void NodeBackupProgress::account_finished(const backup::BackupProgress* p) {
  std::lock_guard lock(mu_);
  std::erase_if(running_, [&](const auto& r) { return r.second == p; });
  done_.files += p->files_done.load();
  done_.bytes += p->bytes_done.load();
  done_.bytes_read += p->bytes_read.load();
  done_.errors += p->errors.load();
}

NodeBackupResult run_node_backup(repo::Repository& repo, const NodeBackupOptions& options) {
  if (options.node.empty()) throw Error(ErrorCode::kInvalidArgument, "the node name must not be empty");
  const auto node_started = std::chrono::steady_clock::now();
  const std::string root = resolve_root(options.root);
  const auto stats_before = repo.stats();
  const auto snapshots = repo.list_snapshots();
  if (options.progress) {
    // The previous snapshots' sizes estimate the node's bytes (for an ETA).
    uint64_t expected = 0;
    bool all = true;
    for (const std::string& account : options.accounts) {
      const std::string path = root == "/" ? "/" + account : root + "/" + account;
      auto parent = find_parent(snapshots, account, options.node, path);
      if (!parent) all = false;
      else expected += parent->second.summary.bytes_total;
    }
    options.progress->start(options.accounts.size(), all ? expected : 0);
  }

  std::optional<DatabaseDumper> dumper;
  if (options.databases) dumper.emplace(*options.databases);

  NodeBackupResult result;
  result.node = options.node;
  result.accounts.resize(options.accounts.size());

  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards repo_error and serializes the callbacks
  std::exception_ptr repo_error;

  auto backup_one = [&](size_t i) {
    const std::string& account = options.accounts[i];
    AccountResult& r = result.accounts[i];
    r.account = account;
    r.path = root == "/" ? "/" + account : root + "/" + account;
    if (options.on_account_start) {
      std::lock_guard lock(mu);
      options.on_account_start(account);
    }
    const auto started = std::chrono::steady_clock::now();
    try {
      check_account_dir(r.path);
      backup::BackupOptions b;
      b.account = account;
      b.node = options.node;
      b.tags.push_back("node:" + options.node);
      b.tags.insert(b.tags.end(), options.tags.begin(), options.tags.end());
      b.excludes = options.excludes;
      b.io_threads = options.io_threads_per_account;
      b.clock = options.clock;
      b.snapshot_time = options.snapshot_time;
      if (auto parent = find_parent(snapshots, account, options.node, r.path)) {
        b.parent_id = parent->first;
        b.parent = std::move(parent->second);
        r.parent_id = parent->first;
      }
      if (options.on_file_error)
        b.on_error = [&options, account](const std::string& path, const std::string& message) {
          options.on_file_error(account, path, message);
        };
      if (options.on_warning)
        b.on_warning = [&options, account](const std::string& path, const std::string& message) {
          options.on_warning(account, path, message);
        };
      DatabasePlan databases;
      if (dumper) {
        databases = dumper->plan(account);
        b.streamed = databases.dir;
      }
      backup::BackupProgress progress;
      b.progress = &progress;
      if (options.progress) options.progress->account_started(account, &progress);
      struct Finished {
        NodeBackupProgress* node;
        const backup::BackupProgress* account;
        ~Finished() {
          if (node) node->account_finished(account);
        }
      } finished{options.progress, &progress};
      backup::BackupResult br = backup::run_backup(repo, r.path, b);
      const repo::SnapshotSummary& m = br.snapshot.summary;
      r.snapshot_id = br.snapshot_id;
      r.files = m.files_new + m.files_changed + m.files_unmodified;
      r.bytes_total = m.bytes_total;
      r.bytes_read = m.bytes_read;
      r.bytes_added = m.bytes_added;
      r.errors = m.errors;
      r.result = br.partial ? AccountOutcome::kPartial : AccountOutcome::kOk;
      if (dumper) {
        r.databases = DatabaseDumper::results(databases, br.streamed);
        // A missing dump fails the account (its files are saved all the
        // same): a database is the part of a site that files cannot replace.
        std::string failures = databases.list_error;
        for (const auto& d : r.databases)
          if (!d.error.empty()) failures += (failures.empty() ? "" : "; ") + d.error;
        if (!failures.empty()) {
          r.result = AccountOutcome::kFailed;
          r.error = failures;
        }
      }
    } catch (const backup::RepositoryError& e) {
      // The repository failed: stop everything.
      r.result = AccountOutcome::kFailed;
      r.error = e.message();
      std::lock_guard lock(mu);
      if (!repo_error) repo_error = std::current_exception();
      stop = true;
    } catch (const Error& e) {
      r.result = AccountOutcome::kFailed;
      r.error = e.message();
      if (e.code() == ErrorCode::kInterrupted) stop = true;
      // Errors that end a backup in its final steps (saving the top tree,
      // flush) do not say whether the account or the repository failed;
      // a flush answers that: a failed repository fails it again.
      try {
        repo.flush();
      } catch (const Error&) {
        std::lock_guard lock(mu);
        if (!repo_error) repo_error = std::current_exception();
        stop = true;
      }
    }
    r.duration_seconds = seconds_since(started);
    if (options.progress) options.progress->account_done();
    if (options.on_account_done) {
      std::lock_guard lock(mu);
      options.on_account_done(r);
    }
  };

  // Other nodes may be backing up into the same repository right now:
  // between accounts, pick up the index segments they wrote, so content they
  // stored is not stored again (at most every 30 s; one thread at a time).
  std::mutex refresh_mu;
  auto last_refresh = std::chrono::steady_clock::now();
  auto refresh = [&] {
    std::unique_lock lock(refresh_mu, std::try_to_lock);
    if (!lock.owns_lock() || std::chrono::steady_clock::now() - last_refresh < std::chrono::seconds(30)) return;
    last_refresh = std::chrono::steady_clock::now();
    try {
      repo.refresh_index();
    } catch (const Error&) {
      // Only deduplication is lost; the backup itself goes on.
    }
  };

  auto worker = [&] {
    while (!stop) {
      size_t i = next.fetch_add(1);
      if (i >= options.accounts.size()) return;
      try {
        if (i > 0) refresh();
        backup_one(i);
      } catch (...) {  // a bug or out of memory: stop everything and report it
        std::lock_guard lock(mu);
        if (!repo_error) repo_error = std::current_exception();
        stop = true;
      }
    }
  };

  size_t n_workers = std::max<size_t>(1, std::min(options.parallel_accounts, options.accounts.size()));
  std::vector<std::thread> workers;
  for (size_t w = 1; w < n_workers; ++w) workers.emplace_back(worker);
  worker();
  for (auto& t : workers) t.join();
  if (repo_error) std::rethrow_exception(repo_error);
  // Every account's snapshot was saved after its own flush; this makes sure
  // nothing another account left in a pack stays unwritten.
  repo.flush();

  for (size_t i = 0; i < result.accounts.size(); ++i) {
    AccountResult& r = result.accounts[i];
    if (r.account.empty()) {  // never started (the run was stopped)
      r.account = options.accounts[i];
      r.result = AccountOutcome::kFailed;
      r.error = "not started: the node backup was interrupted";
    }
    switch (r.result) {
      case AccountOutcome::kOk: ++result.ok; break;
      case AccountOutcome::kPartial: ++result.partial; break;
      case AccountOutcome::kFailed: ++result.failed; break;
    }
    result.files += r.files;
    result.bytes_total += r.bytes_total;
    result.bytes_read += r.bytes_read;
  }
  const auto stats_after = repo.stats();
  result.bytes_added = stats_after.bytes_added - stats_before.bytes_added;
  result.bytes_stored = stats_after.bytes_stored - stats_before.bytes_stored;
  result.duration_seconds = seconds_since(node_started);
  return result;
}

}  // namespace lifeboat::node
