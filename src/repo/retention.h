// Which snapshots a retention policy keeps (the decision behind `forget`,
// issue 6), as a pure function of their times and tags: no repository, no
// I/O, so every rule is tested on its own.
//
// Rules, as restic and borg define them (newest first within a group, the
// snapshots of one node and account):
// - last N: the N newest;
// - hourly/daily/weekly/monthly/yearly N: the newest snapshot of each of the
//   N newest hours/days/ISO weeks/months/years that have one (UTC);
// - within D: every snapshot at most D older than the group's newest;
// - tags: every snapshot carrying one of the tags.
// A count below 0 means unlimited. A snapshot is kept if any rule keeps it,
// and its reasons say which.
//
// Forged times: a node whose clock is wrong, or a compromised node writing
// to an append-only repository, can date snapshots far in the future. Were
// they counted, "keep the 7 newest days" would keep 7 fake days and forget
// every real snapshot. Snapshots dated after `now` plus a tolerance are
// therefore kept ("dated in the future", for a person to look at) and fill
// no rule's quota, and --keep-within counts back from the newest snapshot
// that is not in the future — not from `now`, so that a node whose backups
// stopped (the night it died) does not see its history expire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"

namespace lifeboat::repo {

struct RetentionPolicy {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  int64_t within_ns = 0;  // 0: no --keep-within
  std::vector<std::string> keep_tags;
  bool empty() const {
    return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 &&
           within_ns == 0 && keep_tags.empty();
  }
};

struct RetentionSnapshot {
  UnixNanos time = 0;
  std::vector<std::string> tags;
};

struct RetentionDecision {
  bool keep = false;
  std::vector<std::string> reasons;  // "last", "daily", "within", "tag:T", "dated in the future", "no policy"
};

// One decision per snapshot of `group` (in its order, any order given).
// An empty policy keeps everything.
std::vector<RetentionDecision> decide_retention(const std::vector<RetentionSnapshot>& group,
                                                const RetentionPolicy& policy, UnixNanos now,
                                                int64_t future_tolerance_ns = 3600 * int64_t{1000000000});

// A --keep-within duration: one or more <number><unit> parts, each unit at
// most once, with fixed lengths (as restic's units, but not calendar-aware):
// y = 365 days, m = 30 days (a month, not a minute), w = 7 days,
// d = 24 hours, h = 1 hour. "7d", "36h", "1y2m", "2w3d". Returns
// nanoseconds; throws Error(kInvalidArgument) naming the text otherwise
// (empty, zero, unknown unit, repeated unit, overflow).
int64_t parse_retention_duration(const std::string& text);

}  // namespace lifeboat::repo
