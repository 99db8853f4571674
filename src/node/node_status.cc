#include "node/node_status.h"

#include <map>

#include "base/error.h"

namespace lifeboat::node {

NodeStatus compute_node_status(const std::vector<std::pair<Id, repo::Snapshot>>& snapshots,
                               const std::string& node,
                               const std::vector<std::string>& known_accounts, UnixNanos now,
                               int64_t max_age_ns) {
  std::map<std::string, AccountStatus> by_account;
  for (const auto& name : known_accounts) by_account[name].account = name;
  for (const auto& [id, s] : snapshots) {
    if (s.node != node) continue;
    AccountStatus& a = by_account[s.account];
    a.account = s.account;
    ++a.snapshots;
    if (!a.snapshot_id || s.time >= a.time) {
      a.snapshot_id = id;
      a.time = s.time;
      a.bytes_total = s.summary.bytes_total;
      a.partial = s.partial;
    }
    if (!s.partial && (!a.complete_id || s.time >= a.complete_time)) {
      a.complete_id = id;
      a.complete_time = s.time;
    }
  }
  NodeStatus out;
  out.node = node;
  out.max_age_ns = max_age_ns;
  for (auto& [name, a] : by_account) {
    if (a.snapshot_id) {
      a.age_seconds = static_cast<double>(now - a.time) / 1e9;
      a.stale = now - a.time > max_age_ns;
    } else {
      a.stale = true;
      ++out.missing;
    }
    if (a.stale) ++out.stale;
    out.accounts.push_back(std::move(a));
  }
  return out;
}

NodeStatus node_status(const repo::Repository& repo, const std::string& node,
                       const std::vector<std::string>& known_accounts, UnixNanos now,
                       int64_t max_age_ns) {
  return compute_node_status(repo.list_snapshots(), node, known_accounts, now, max_age_ns);
}

int64_t parse_max_age(const std::string& text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument,
                 "max age '" + text + "' is not a duration like 90s, 30m, 26h or 7d");
  };
  if (text.empty()) throw bad();
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) throw bad();
  std::string unit = text.substr(digits);
  int64_t mult;
  if (unit.empty() || unit == "s") mult = 1;
  else if (unit == "m") mult = 60;
  else if (unit == "h") mult = 3600;
  else if (unit == "d") mult = 86400;
  else throw bad();
  return std::stoll(text.substr(0, digits)) * mult * 1000000000LL;
}

}  // namespace lifeboat::node
