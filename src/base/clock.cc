#include "base/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/error.h"

namespace lifeboat {

UnixNanos now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(UnixNanos t) {
  time_t secs = static_cast<time_t>(t / 1000000000);
  long nanos = static_cast<long>(t % 1000000000);
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
  return buf;
}

UnixNanos parse_rfc3339(const std::string& text) {
  struct tm tm {};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    throw Error(ErrorCode::kInvalidArgument, "not an RFC 3339 time: '" + text + "'");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t nanos = 0;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    while (digits++ < 9) nanos *= 10;
  }
  if (pos >= text.size() || text[pos] != 'Z' || pos + 1 != text.size())
    throw Error(ErrorCode::kInvalidArgument, "not an RFC 3339 UTC time: '" + text + "'");
  return static_cast<int64_t>(timegm(&tm)) * 1000000000 + nanos;
}

}  // namespace lifeboat
