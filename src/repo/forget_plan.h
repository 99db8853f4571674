// What `forget` would do to a list of snapshots: filter them, group them
// (per node and account by default), and apply the retention policy to each
// group (retention.h). Pure, like the rules: the CLI lists the snapshots,
// prints the plan and removes what it says.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/id.h"
#include "repo/retention.h"
#include "repo/snapshot.h"

namespace lifeboat::repo {

// Which snapshot fields make a group (--group-by).
struct GroupBy {
  bool node = true;
  bool account = true;
};
// "node,account" (either order), "node", "account" or "none"; throws
// Error(kInvalidArgument) naming the text otherwise.
GroupBy parse_group_by(const std::string& text);

// Which snapshots forget considers; empty fields match everything.
struct ForgetFilter {
  std::string node;
  std::vector<std::string> accounts;  // any of them
  std::vector<std::string> tags;      // carrying any of them
  bool matches(const Snapshot& s) const;
};

struct ForgetEntry {
  Id id;
  UnixNanos time = 0;
  std::vector<std::string> tags;
  std::vector<std::string> reasons;  // why it is kept (empty in `remove`)
};

struct ForgetGroup {
  std::optional<std::string> node, account;  // unset: not part of the grouping
  std::vector<ForgetEntry> keep, remove;     // oldest first
};

// One group per distinct key among the snapshots that match `filter`,
// ordered by key; each group decided on its own. `now` is the wall clock,
// for the rule on snapshots dated in the future.
std::vector<ForgetGroup> plan_forget(const std::vector<std::pair<Id, Snapshot>>& snapshots,
                                     const ForgetFilter& filter, GroupBy group_by,
                                     const RetentionPolicy& policy, UnixNanos now);

// The plan for snapshots named explicitly: each goes, grouped as above.
std::vector<ForgetGroup> plan_forget_ids(const std::vector<std::pair<Id, Snapshot>>& chosen,
                                         GroupBy group_by);

}  // namespace lifeboat::repo
