#include "check/checker.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/error.h"
#include "check/check_internal.h"
#include "repo/pack_reader.h"
#include "crypto/aead.h"

namespace lifeboat::check {

namespace detail {

using backend::ObjectType;

Checker::Checker(repo::Repository& repo, const CheckOptions& options)
    : repo_(repo), backend_(repo.backend()), options_(options) {}

CheckReport Checker::run() {
  if (options_.subset_m == 0 ? options_.subset_n != 0
                             : options_.subset_n < 1 || options_.subset_n > options_.subset_m ||
                                   options_.subset_m > 256)
    throw Error(ErrorCode::kInvalidArgument,
                "read-data subset " + std::to_string(options_.subset_n) + "/" +
                    std::to_string(options_.subset_m) +
                    " is not valid; use n/m with 1 <= n <= m <= 256");

  check_config();
  check_keys();
  // Snapshots, then index, then packs (law 2: what is listed later is at
  // least as complete as what the earlier listings need).
  list_snapshot_names();
  check_index_segments();
  list_packs();
  check_indexed_packs();
  check_unreferenced_packs();
  judge_damaged_segments();
  load_snapshots();
  walk_trees();
  if (options_.read_data) read_data();
  if (!culprits_.empty()) attribute();
  finish();
  return std::move(report_);
}

size_t Checker::add_problem(Problem p) {
  std::lock_guard lock(mu_);
  report_.problems.push_back(std::move(p));
  return report_.problems.size() - 1;
}

void Checker::add_warning(std::string w) {
  std::lock_guard lock(mu_);
  report_.warnings.push_back(std::move(w));
}

void Checker::blame_pack_entries(const Id& pack, const std::vector<repo::PackEntry>& entries,
                                 size_t p,
                                 const std::function<bool(const repo::PackEntry&)>& lost) {
  std::vector<Id> blamed;
  for (const auto& e : entries) {
    if (!lost(e)) continue;
    auto where = locate(e.id);
    if (where && where->loc.pack == pack) blamed.push_back(e.id);
  }
  std::lock_guard lock(mu_);
  for (const Id& id : blamed) blame_locked(id, p);
}

std::optional<Located> Checker::locate(const Id& blob) const {
  // Where readers end up (Repository::load_blob): the index, unless it
  // names a pack whose own trailer says otherwise; then the trailers of
  // listed packs; then those of packs no index lists.
  auto loc = repo_.index().find(blob);
  if (loc && !pack_sizes_.count(loc->pack)) {
    // The preferred copy's pack is gone: readers turn to another copy.
    for (auto& other : repo_.index().find_all(blob))
      if (pack_sizes_.count(other.pack)) {
        loc = std::move(other);
        break;
      }
  }
  if (loc && !trailer_index_.has_pack(loc->pack)) return Located{*loc, false};
  if (auto t = trailer_index_.find(blob)) return Located{*t, false};
  if (loc) return Located{*loc, false};
  if (auto u = unreferenced_index_.find(blob)) return Located{*u, true};
  return std::nullopt;
}

repo::Tree Checker::load_tree(const Id& id, const repo::BlobLocation& loc) const {
  Bytes stored = backend_.load({ObjectType::kData, loc.pack.hex()}, loc.entry.offset,
                               loc.entry.stored_length);
  crypto::Aead aead(repo::pack_subkey(repo_.keys().encryption, loc.salt));
  Bytes raw, scratch;
  repo::decode_blob(aead, repo_.hasher(), loc.entry, stored, loc.pack, raw, scratch);
  try {
    return repo::decode_tree(raw);
  } catch (const Error& e) {
    throw Error(ErrorCode::kCorrupt, "tree " + id.hex() + " does not decode: " + e.message());
  }
}

PackTail Checker::read_tail(const Id& pack, uint64_t size, ByteView tail, uint64_t guess) const {
  repo::PackInfo info =
      repo::read_pack_trailer(backend_, repo_.keys().encryption, pack, size, tail, guess);
  return PackTail{info.salt, std::move(info.entries)};
}

namespace {
int kind_rank(const std::string& kind) {
  static const char* const kOrder[] = {"config", "key", "index", "pack", "snapshot", "tree", "blob"};
  for (int i = 0; i < 7; ++i)
    if (kind == kOrder[i]) return i;
  return 7;
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}
}  // namespace

void Checker::finish() {
  report_.packs = listings_.size();
  std::map<std::string, std::string> account_of;  // snapshot id (hex) -> "node/account"
  for (const auto& [id, s] : snapshots_)
    account_of[id.hex()] = s.node + "/" + (s.account.empty() ? "-" : s.account);
  std::set<std::string> affected_snapshots, affected_accounts;
  for (auto& p : report_.problems) {
    sort_unique(p.snapshots);
    sort_unique(p.files);
    sort_unique(p.blobs);
    for (const auto& snap : p.snapshots) {
      if (!p.restorable) affected_snapshots.insert(snap);
      if (auto it = account_of.find(snap); it != account_of.end()) {
        p.accounts.push_back(it->second);
        if (!p.restorable) affected_accounts.insert(it->second);
      }
    }
    sort_unique(p.accounts);
  }
  // Damaged paths per snapshot ("<short id>:<path>" in the problems).
  std::map<std::string, std::set<std::string>> damaged_paths;
  for (const auto& p : report_.problems)
    if (!p.restorable)
      for (const auto& f : p.files) {
        auto colon = f.find(':');
        if (colon != std::string::npos) damaged_paths[f.substr(0, colon)].insert(f.substr(colon + 1));
      }
  for (const auto& [id, s] : snapshots_) {
    const std::string hex = id.hex();
    if (!affected_snapshots.count(hex)) continue;
    CheckReport::SnapshotDamage d;
    d.snapshot = hex;
    d.account = account_of[hex];
    d.files = s.summary.files_new + s.summary.files_changed + s.summary.files_unmodified;
    for (const auto& path : damaged_paths[id.short_hex()])
      (!path.empty() && path.back() == '/' ? d.damaged_dirs : d.damaged_files)++;
    report_.affected_snapshots.push_back(std::move(d));
  }
  std::sort(report_.affected_snapshots.begin(), report_.affected_snapshots.end(),
            [](const auto& a, const auto& b) { return a.snapshot < b.snapshot; });
  std::set<std::string> unaffected_accounts;
  for (const auto& [snap, account] : account_of) {
    if (!affected_snapshots.count(snap)) report_.unaffected_snapshots.push_back(snap);
    if (!affected_accounts.count(account)) unaffected_accounts.insert(account);
  }
  report_.affected_accounts.assign(affected_accounts.begin(), affected_accounts.end());
  report_.unaffected_accounts.assign(unaffected_accounts.begin(), unaffected_accounts.end());
  std::stable_sort(report_.problems.begin(), report_.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     int ra = kind_rank(a.kind), rb = kind_rank(b.kind);
                     if (ra != rb) return ra < rb;
                     if (a.object != b.object) return a.object < b.object;
                     return a.message < b.message;
                   });
  sort_unique(report_.warnings);
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace detail

CheckReport run_check(repo::Repository& repo, const CheckOptions& options) {
  return detail::Checker(repo, options).run();
}

}  // namespace lifeboat::check
