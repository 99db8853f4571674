// The retention rules of `forget` on hand-made histories: each rule alone,
// their union with reasons, tags, --keep-within counted from the newest
// snapshot, and snapshots with forged future times that must not push real
// ones out.

#include "repo/retention.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/error.h"

namespace lifeboat::repo {
namespace {

constexpr int64_t kHour = 3600LL * 1000000000LL;
constexpr int64_t kDay = 24 * kHour;

UnixNanos at(const char* rfc3339) { return parse_rfc3339(rfc3339); }

// Indexes of the kept snapshots.
std::vector<size_t> kept(const std::vector<RetentionDecision>& d) {
  std::vector<size_t> out;
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i].keep) out.push_back(i);
  return out;
}

// Two snapshots a day (01:00 and 13:00 UTC) for `days` days from 2026-03-01.
std::vector<RetentionSnapshot> twice_daily(int days) {
  std::vector<RetentionSnapshot> s;
  const UnixNanos start = at("2026-03-01T01:00:00Z");
  for (int d = 0; d < days; ++d) {
    s.push_back({start + d * kDay, {}});
    s.push_back({start + d * kDay + 12 * kHour, {}});
  }
  return s;
}

TEST(Retention, AnEmptyPolicyKeepsEverything) {
  auto d = decide_retention(twice_daily(3), RetentionPolicy{}, at("2026-04-01T00:00:00Z"));
  EXPECT_EQ(kept(d).size(), 6u);
  EXPECT_EQ(d[0].reasons, std::vector<std::string>{"no policy"});
}

TEST(Retention, LastKeepsTheNewestInAnyOrder) {
  auto s = twice_daily(3);
  std::swap(s[0], s[5]);  // the newest first in the input
  RetentionPolicy p;
  p.last = 2;
  auto d = decide_retention(s, p, at("2026-04-01T00:00:00Z"));
  EXPECT_EQ(kept(d), (std::vector<size_t>{0, 4}));  // 03-03 13:00 (moved to 0) and 03-03 01:00
  EXPECT_EQ(d[0].reasons, std::vector<std::string>{"last"});
}

TEST(Retention, DailyKeepsTheNewestOfEachDay) {
  RetentionPolicy p;
  p.daily = 3;
  auto d = decide_retention(twice_daily(10), p, at("2026-04-01T00:00:00Z"));
  // The 13:00 snapshot of the last three days (indexes 15, 17, 19).
  EXPECT_EQ(kept(d), (std::vector<size_t>{15, 17, 19}));
  EXPECT_EQ(d[19].reasons, std::vector<std::string>{"daily"});
}

TEST(Retention, WeeklyFollowsIsoWeeksMonthlyAndYearlyTheCalendar) {
  std::vector<RetentionSnapshot> s = {
      {at("2026-03-01T12:00:00Z"), {}},  // Sunday: ISO week 9
      {at("2026-03-02T12:00:00Z"), {}},  // Monday: week 10
      {at("2026-03-08T12:00:00Z"), {}},  // Sunday: week 10
      {at("2026-03-31T23:59:59Z"), {}},  // March
      {at("2026-04-01T00:00:00Z"), {}},  // April
      {at("2025-12-31T23:00:00Z"), {}},  // 2025
  };
  RetentionPolicy weekly;
  weekly.weekly = -1;  // unlimited
  auto d = decide_retention(s, weekly, at("2026-05-01T00:00:00Z"));
  // 03-31 and 04-01 share ISO week 14: only 04-01 is kept; 03-08 keeps week 10 (not 03-02);
  // 2025-12-31 is in ISO week 1 of 2026.
  EXPECT_EQ(kept(d), (std::vector<size_t>{0, 2, 4, 5}));
  RetentionPolicy monthly;
  monthly.monthly = 2;
  EXPECT_EQ(kept(decide_retention(s, monthly, at("2026-05-01T00:00:00Z"))), (std::vector<size_t>{3, 4}));
  RetentionPolicy yearly;
  yearly.yearly = 5;
  EXPECT_EQ(kept(decide_retention(s, yearly, at("2026-05-01T00:00:00Z"))), (std::vector<size_t>{4, 5}));
}

TEST(Retention, RulesUniteAndSayWhy) {
  auto s = twice_daily(40);
  s[3].tags = {"before-upgrade"};
  RetentionPolicy p;
  p.last = 1;
  p.daily = 2;
  p.monthly = 2;
  p.keep_tags = {"before-upgrade"};
  auto d = decide_retention(s, p, at("2026-05-01T00:00:00Z"));
  const size_t newest = s.size() - 1;  // 04-09 13:00
  EXPECT_EQ(d[newest].reasons, (std::vector<std::string>{"last", "daily", "monthly"}));
  EXPECT_EQ(d[newest - 2].reasons, std::vector<std::string>{"daily"});
  EXPECT_EQ(d[61].reasons, std::vector<std::string>{"monthly"});  // 03-31 13:00, newest of March
  EXPECT_EQ(d[3].reasons, std::vector<std::string>{"tag:before-upgrade"});
  EXPECT_EQ(kept(d).size(), 4u);
}

TEST(Retention, WithinCountsFromTheNewestSnapshotNotFromNow) {
  // Backups stopped a month ago (the node died): --keep-within 2d still
  // keeps the last two days it backed up.
  RetentionPolicy p;
  p.within_ns = 2 * kDay;
  auto d = decide_retention(twice_daily(10), p, at("2026-04-12T00:00:00Z"));
  // Newest 03-10 13:00; within 2 days: from 03-08 13:00 on.
  EXPECT_EQ(kept(d), (std::vector<size_t>{15, 16, 17, 18, 19}));
}

TEST(Retention, ForgedFutureSnapshotsDoNotPushRealOnesOut) {
  auto s = twice_daily(10);
  const UnixNanos now = at("2026-03-11T00:00:00Z");
  for (int i = 0; i < 10; ++i) s.push_back({at("2099-01-01T00:00:00Z") + i * kDay, {}});
  RetentionPolicy p;
  p.last = 2;
  p.daily = 3;
  p.within_ns = kDay;
  auto d = decide_retention(s, p, now);
  std::vector<size_t> real_kept;
  for (size_t i = 0; i < 20; ++i)
    if (d[i].keep) real_kept.push_back(i);
  // As if the forged ones were not there: the 2 newest, the last 3 days, 1 day back.
  EXPECT_EQ(real_kept, (std::vector<size_t>{15, 17, 18, 19}));
  for (size_t i = 20; i < s.size(); ++i) {
    EXPECT_TRUE(d[i].keep);
    EXPECT_EQ(d[i].reasons, std::vector<std::string>{"dated in the future"});
  }
  // Within the tolerance (a clock a few minutes fast) a snapshot is ordinary.
  std::vector<RetentionSnapshot> skew = {{now + 10 * 60 * 1000000000LL, {}}, {now - kDay, {}}};
  RetentionPolicy one;
  one.last = 1;
  auto ds = decide_retention(skew, one, now);
  EXPECT_EQ(ds[0].reasons, std::vector<std::string>{"last"});
  EXPECT_FALSE(ds[1].keep);
}

TEST(Retention, DurationsHaveFixedUnits) {
  EXPECT_EQ(parse_retention_duration("7d"), 7 * kDay);
  EXPECT_EQ(parse_retention_duration("36h"), 36 * kHour);
  EXPECT_EQ(parse_retention_duration("2w"), 14 * kDay);
  EXPECT_EQ(parse_retention_duration("1y2m"), (365 + 60) * kDay);  // m is a month, not a minute
  EXPECT_EQ(parse_retention_duration("1d12h"), 36 * kHour);
  for (const char* bad : {"", "7", "d", "7x", "1d1d", "0d", "7s", "-1d", "1.5d", "99999999999y", "300y"})
    EXPECT_THROW(parse_retention_duration(bad), Error) << bad;
}

}  // namespace
}  // namespace lifeboat::repo
