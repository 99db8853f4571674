// Wall-clock time as injected into code that stamps things (snapshots), so
// tests can be deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace lifeboat {

// Nanoseconds since the Unix epoch.
using UnixNanos = int64_t;

UnixNanos now_unix_nanos();
// RFC 3339 with nanoseconds in UTC, e.g. 2026-11-25T21:27:27.123456789Z.
std::string format_rfc3339(UnixNanos t);
// Parses what format_rfc3339 writes (and the same without fraction).
// Throws Error(kInvalidArgument) on anything else.
UnixNanos parse_rfc3339(const std::string& text);

}  // namespace lifeboat
