#include "repo/forget_plan.h"

#include <algorithm>
#include <map>

#include "base/error.h"

namespace lifeboat::repo {

namespace {

using Key = std::pair<std::optional<std::string>, std::optional<std::string>>;

Key key_of(const Snapshot& s, GroupBy g) {
  return {g.node ? std::optional(s.node) : std::nullopt,
          g.account ? std::optional(s.account) : std::nullopt};
}

// Snapshots grouped by key, each group oldest first (ties by id, so the
// output does not depend on listing order).
std::map<Key, std::vector<const std::pair<Id, Snapshot>*>> group(
    const std::vector<const std::pair<Id, Snapshot>*>& snaps, GroupBy g) {
  std::map<Key, std::vector<const std::pair<Id, Snapshot>*>> groups;
  for (const auto* s : snaps) groups[key_of(s->second, g)].push_back(s);
  for (auto& [key, members] : groups)
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return a->second.time != b->second.time ? a->second.time < b->second.time : a->first < b->first;
    });
  return groups;
}

ForgetEntry entry_of(const std::pair<Id, Snapshot>& s, std::vector<std::string> reasons = {}) {
  return {s.first, s.second.time, s.second.tags, std::move(reasons)};
}

}  // namespace

GroupBy parse_group_by(const std::string& text) {
  if (text == "node,account" || text == "account,node") return {true, true};
  if (text == "node") return {true, false};
  if (text == "account") return {false, true};
  if (text == "none" || text.empty()) return {false, false};
  throw Error(ErrorCode::kInvalidArgument,
              "--group-by '" + text + "' is not one of node,account (the default), node, account, none");
}

bool ForgetFilter::matches(const Snapshot& s) const {
  auto any_of = [](const std::vector<std::string>& wanted, auto&& has) {
    return wanted.empty() || std::any_of(wanted.begin(), wanted.end(), has);
  };
  return (node.empty() || s.node == node) &&
         any_of(accounts, [&](const std::string& a) { return s.account == a; }) &&
         any_of(tags, [&](const std::string& t) {
           return std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end();
         });
}

std::vector<ForgetGroup> plan_forget(const std::vector<std::pair<Id, Snapshot>>& snapshots,
                                     const ForgetFilter& filter, GroupBy group_by,
                                     const RetentionPolicy& policy, UnixNanos now) {
  std::vector<const std::pair<Id, Snapshot>*> matching;
  for (const auto& s : snapshots)
    if (filter.matches(s.second)) matching.push_back(&s);
  std::vector<ForgetGroup> out;
  for (const auto& [key, members] : group(matching, group_by)) {
    std::vector<RetentionSnapshot> times;
    for (const auto* s : members) times.push_back({s->second.time, s->second.tags});
    const std::vector<RetentionDecision> decisions = decide_retention(times, policy, now);
    ForgetGroup g{key.first, key.second, {}, {}};
    for (size_t i = 0; i < members.size(); ++i) {
      if (decisions[i].keep)
        g.keep.push_back(entry_of(*members[i], decisions[i].reasons));
      else
        g.remove.push_back(entry_of(*members[i]));
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<ForgetGroup> plan_forget_ids(const std::vector<std::pair<Id, Snapshot>>& chosen,
                                         GroupBy group_by) {
  std::vector<const std::pair<Id, Snapshot>*> all;
  for (const auto& s : chosen) all.push_back(&s);
  std::vector<ForgetGroup> out;
  for (const auto& [key, members] : group(all, group_by)) {
    ForgetGroup g{key.first, key.second, {}, {}};
    for (const auto* s : members) g.remove.push_back(entry_of(*s));
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace lifeboat::repo
