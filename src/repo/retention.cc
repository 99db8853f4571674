#include "repo/retention.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>

#include "base/error.h"

namespace lifeboat::repo {

namespace {

constexpr int64_t kSecond = 1000000000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The calendar buckets of a time (UTC), one per rule.
struct Buckets {
  int64_t hour, day, week, month, year;
};

Buckets buckets_of(UnixNanos t) {
  using namespace std::chrono;
  const int64_t seconds = floor_div(t, kSecond);
  const int64_t day = floor_div(seconds, 86400);
  const year_month_day ymd{sys_days{days{day}}};
  // 1970-01-01 was a Thursday: +3 makes ISO weeks start on Monday.
  return {floor_div(seconds, 3600), day, floor_div(day + 3, 7),
          int64_t{static_cast<int>(ymd.year())} * 12 + static_cast<unsigned>(ymd.month()),
          int64_t{static_cast<int>(ymd.year())}};
}

}  // namespace

std::vector<RetentionDecision> decide_retention(const std::vector<RetentionSnapshot>& group,
                                                const RetentionPolicy& policy, UnixNanos now,
                                                int64_t future_tolerance_ns) {
  std::vector<RetentionDecision> out(group.size());
  if (policy.empty()) {
    for (auto& d : out) d = {true, {"no policy"}};
    return out;
  }
  std::vector<size_t> order(group.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return group[a].time > group[b].time; });

  struct Rule {
    const char* name;
    int left;
    int64_t Buckets::*bucket;  // null: every snapshot is its own bucket (last)
    int64_t seen = 0;
    bool any = false;
  };
  Rule rules[] = {{"last", policy.last, nullptr},          {"hourly", policy.hourly, &Buckets::hour},
                  {"daily", policy.daily, &Buckets::day},  {"weekly", policy.weekly, &Buckets::week},
                  {"monthly", policy.monthly, &Buckets::month}, {"yearly", policy.yearly, &Buckets::year}};

  const UnixNanos future = now + future_tolerance_ns;
  std::optional<UnixNanos> newest;  // the newest snapshot not from the future
  for (size_t i : order) {
    if (group[i].time <= future) {
      newest = group[i].time;
      break;
    }
  }
  for (size_t i : order) {
    const RetentionSnapshot& s = group[i];
    RetentionDecision& d = out[i];
    if (s.time > future) {
      d = {true, {"dated in the future"}};
      continue;
    }
    const Buckets b = buckets_of(s.time);
    for (Rule& r : rules) {
      if (r.left == 0) continue;
      const int64_t bucket = r.bucket ? b.*(r.bucket) : static_cast<int64_t>(i);
      if (r.any && r.bucket && bucket == r.seen) continue;  // this bucket already has its newest
      r.any = true;
      r.seen = bucket;
      if (r.left > 0) --r.left;
      d.reasons.emplace_back(r.name);
    }
    if (policy.within_ns > 0 && newest && s.time >= *newest - policy.within_ns) d.reasons.emplace_back("within");
    for (const std::string& t : policy.keep_tags)
      if (std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end()) d.reasons.push_back("tag:" + t);
    d.keep = !d.reasons.empty();
  }
  return out;
}

int64_t parse_retention_duration(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "--keep-within '" + text + "' " + why +
                     "; write a duration like 7d, 36h, 2w or 1y2m (units y=365d, m=30d, w, d, h)");
  };
  constexpr int64_t kHourNs = 3600 * kSecond;
  const std::string units = "ymwdh";
  const int64_t unit_ns[] = {365 * 24 * kHourNs, 30 * 24 * kHourNs, 7 * 24 * kHourNs, 24 * kHourNs, kHourNs};
  bool seen[5] = {};
  int64_t total = 0;
  size_t pos = 0;
  if (text.empty()) throw bad("is empty");
  while (pos < text.size()) {
    int64_t n = 0;
    const size_t digits_start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n > 1000000) throw bad("is too long");  // keeps n * 10 in range
      n = n * 10 + (text[pos++] - '0');
    }
    if (pos == digits_start) throw bad("needs a number before each unit");
    if (pos == text.size()) throw bad("needs a unit after " + std::to_string(n));
    const size_t u = units.find(text[pos]);
    if (u == std::string::npos) throw bad("has an unknown unit '" + std::string(1, text[pos]) + "'");
    if (seen[u]) throw bad("repeats the unit '" + std::string(1, text[pos]) + "'");
    seen[u] = true;
    ++pos;
    int64_t part = 0;
    if (__builtin_mul_overflow(n, unit_ns[u], &part) || __builtin_add_overflow(total, part, &total))
      throw bad("is too long");
  }
  if (total == 0) throw bad("is zero");
  return total;
}

}  // namespace lifeboat::repo
