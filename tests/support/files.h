// Small file helpers for tests that build directory trees by hand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lifeboat::test {

// `n` pseudo-random (incompressible) bytes, the same for the same seed.
std::string seeded_bytes(size_t n, uint64_t seed);

// Creates or replaces the file with `content`. Throws lifeboat::Error on failure.
void write_file(const std::string& path, std::string_view content);

}  // namespace lifeboat::test
