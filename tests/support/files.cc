#include "support/files.h"

#include <fstream>
#include <random>

#include "base/error.h"

namespace lifeboat::test {

std::string seeded_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void write_file(const std::string& path, std::string_view content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  f.close();
  if (!f) throw Error(ErrorCode::kIo, "test: cannot write " + path);
}

}  // namespace lifeboat::test
