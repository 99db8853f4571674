#include "chunk/chunker.h"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <set>
#include <vector>

#include "base/error.h"
#include "base/hex.h"
#include "crypto/mac.h"

namespace lifeboat::chunk {
namespace {

crypto::Key32 key_of(uint8_t seed) {
  crypto::Key32 k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + i);
  return k;
}

// splitmix64: fast, deterministic pseudo-random test data.
Bytes random_data(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(z >> (8 * j));
  }
  return out;
}

std::vector<size_t> chunk_all(const Chunker& c, ByteView data) {
  std::vector<size_t> lens;
  size_t off = 0;
  while (off < data.size()) {
    ByteView rest = data.subspan(off);
    size_t n = c.cut(rest, rest.size() < c.params().max_size);
    lens.push_back(n);
    off += n;
  }
  return lens;
}

std::vector<Id> chunk_ids(const Chunker& c, ByteView data) {
  std::vector<Id> ids;
  size_t off = 0;
  for (size_t n : chunk_all(c, data)) {
    ids.push_back(crypto::sha256(data.subspan(off, n)));
    off += n;
  }
  return ids;
}

// Fraction of `before`'s chunks that also occur in `after`.
double shared_fraction(const std::vector<Id>& before, const std::vector<Id>& after) {
  std::set<Id> have(after.begin(), after.end());
  size_t shared = 0;
  for (const Id& id : before) shared += have.count(id);
  return double(shared) / double(before.size());
}

// The cut rule exactly as chunker.h states it, one byte at a time, hashing
// from the chunk's first byte: checks the unrolled loop and the claim that
// starting 64 bytes early changes nothing.
size_t reference_cut(const GearTable& t, const Chunker& c, ByteView data) {
  const auto& p = c.params();
  const size_t limit = std::min<size_t>(data.size(), p.max_size);
  uint64_t h = 0;
  for (size_t i = 0; i < limit; ++i) {
    h = (h << 1) + t.values()[data[i]];
    size_t len = i + 1;
    if (len < p.min_size) continue;
    uint64_t mask = len <= p.avg_size ? c.mask_small() : c.mask_large();
    if ((h & mask) == 0) return len;
  }
  return limit;
}

constexpr ChunkerParams kSmall{16u << 10, 64u << 10, 512u << 10};

TEST(GearTable, DerivedFromKeyAsSpecified) {
  crypto::Key32 key = key_of(0);
  GearTable t(key);
  crypto::IdHasher h(key);
  for (int i : {0, 1, 127, 255}) {
    Bytes msg(as_bytes("lifeboat gear").begin(), as_bytes("lifeboat gear").end());
    msg.push_back(static_cast<uint8_t>(i));
    EXPECT_EQ(t.values()[i], get_u64le(h.mac(msg).bytes.data())) << i;
  }
  // Pinned (computed with Python's hmac): the table is part of the format.
  EXPECT_EQ(t.values()[0], 0x0379d247ed1078fbull);
  EXPECT_NE(GearTable(key_of(1)).values(), t.values());
}

TEST(Chunker, MasksFollowTheSpec) {
  GearTable t(key_of(0));
  Chunker c(t, ChunkerParams{});  // avg 1 MiB: 22 and 18 bits
  EXPECT_EQ(std::popcount(c.mask_small()), 22);
  EXPECT_EQ(std::popcount(c.mask_large()), 18);
  EXPECT_EQ(c.mask_small() & 0xffff, 0u);
  EXPECT_EQ(c.mask_large() & 0xffff, 0u);
  // Pinned (computed from the formula in chunker.h): part of the format.
  EXPECT_EQ(c.mask_small(), 0xaaa554aaa5540000ull);
  EXPECT_EQ(c.mask_large(), 0xa4a4a4a4a4a40000ull);
  Chunker s(t, kSmall);  // avg 64 KiB: 18 and 14 bits
  EXPECT_EQ(std::popcount(s.mask_small()), 18);
  EXPECT_EQ(std::popcount(s.mask_large()), 14);
}

TEST(Chunker, RejectsInvalidParams) {
  GearTable t(key_of(0));
  const ChunkerParams bad[] = {
      {1000, 3000, 9000},       // avg not a power of two
      {1u << 20, 1u << 20, 8u << 20},  // min == avg
      {512u << 10, 1u << 20, 1u << 20},  // avg == max
      {0, 1u << 20, 8u << 20},  // min == 0
      {8, 32, 64},              // avg too small for mask_large
  };
  for (const auto& p : bad) {
    try {
      Chunker c(t, p);
      ADD_FAILURE() << "accepted min=" << p.min_size << " avg=" << p.avg_size;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_NO_THROW(Chunker(t, ChunkerParams{}));
  EXPECT_NO_THROW(Chunker(t, kSmall));
}

TEST(Chunker, ShortFinalTailIsOneChunk) {
  GearTable t(key_of(0));
  Chunker c(t, kSmall);
  Bytes data = random_data(kSmall.min_size - 1, 1);
  EXPECT_EQ(c.cut(data, true), data.size());
  EXPECT_EQ(c.cut(ByteView(data).first(1), true), 1u);
  EXPECT_EQ(c.cut(ByteView(data).first(kSmall.min_size - 1), true), kSmall.min_size - 1);
  EXPECT_EQ(c.cut({}, true), 0u);
  // A non-final input must hold max_size bytes.
  EXPECT_THROW(c.cut(data, false), Error);
}

TEST(Chunker, MatchesReferenceImplementation) {
  GearTable t(key_of(3));
  for (ChunkerParams p : {kSmall, ChunkerParams{100, 256, 1024}, ChunkerParams{1, 64, 200}}) {
    Chunker c(t, p);
    Bytes data = random_data(4u << 20, 99);
    size_t off = 0, chunks = 0;
    while (off < data.size()) {
      ByteView rest = ByteView(data).subspan(off);
      size_t n = c.cut(rest, rest.size() < p.max_size);
      ASSERT_EQ(n, reference_cut(t, c, rest)) << "offset " << off << " avg " << p.avg_size;
      off += n;
      ++chunks;
    }
    EXPECT_GT(chunks, 10u);
  }
}

TEST(Chunker, DeterministicPerKeyAndDifferentAcrossKeys) {
  Bytes data = random_data(16u << 20, 7);
  GearTable t1(key_of(1)), t1again(key_of(1)), t2(key_of(2));
  auto a = chunk_all(Chunker(t1, kSmall), data);
  auto b = chunk_all(Chunker(t1again, kSmall), data);
  auto c = chunk_all(Chunker(t2, kSmall), data);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Not just shifted a little: almost no cut positions coincide.
  std::set<size_t> cuts_a;
  size_t off = 0;
  for (size_t n : a) cuts_a.insert(off += n);
  size_t common = 0;
  off = 0;
  for (size_t n : c) common += cuts_a.count(off += n);
  EXPECT_LT(double(common) / double(c.size()), 0.1) << common << " of " << c.size();
}

void expect_sizes_and_mean(ChunkerParams p, size_t data_size) {
  GearTable t(key_of(5));
  Chunker c(t, p);
  Bytes data = random_data(data_size, 11);
  auto lens = chunk_all(c, data);
  ASSERT_FALSE(lens.empty());
  for (size_t i = 0; i + 1 < lens.size(); ++i) {
    ASSERT_GE(lens[i], p.min_size) << i;
    ASSERT_LE(lens[i], p.max_size) << i;
  }
  EXPECT_GE(lens.back(), 1u);
  EXPECT_LE(lens.back(), p.max_size);
  double mean = double(data.size()) / double(lens.size());
  size_t at_max = 0;
  for (size_t n : lens) at_max += n == p.max_size;
  std::printf("avg %u: %zu chunks, mean %.0f (%.2f x avg), %zu cut at max\n", p.avg_size,
              lens.size(), mean, mean / p.avg_size, at_max);
  EXPECT_GT(mean, 0.75 * p.avg_size);
  EXPECT_LT(mean, 1.25 * p.avg_size);
}

TEST(Chunker, SizesWithinBoundsAndMeanNearAverageDefault) {
  expect_sizes_and_mean(ChunkerParams{}, 64u << 20);
}

TEST(Chunker, SizesWithinBoundsAndMeanNearAverageSmall) {
  expect_sizes_and_mean(kSmall, 64u << 20);
}

TEST(Chunker, ResynchronizesAfterInsertNearStart) {
  GearTable t(key_of(9));
  for (ChunkerParams p : {kSmall, ChunkerParams{}}) {
    Chunker c(t, p);
    Bytes data = random_data(p.avg_size == kSmall.avg_size ? (16u << 20) : (64u << 20), 21);
    Bytes edited = data;
    const uint8_t ins[] = {'h', 'e', 'l', 'l', 'o'};
    edited.insert(edited.begin() + 1000, std::begin(ins), std::end(ins));
    auto before = chunk_ids(c, data);
    auto after = chunk_ids(c, edited);
    double f = shared_fraction(before, after);
    std::printf("avg %u: insert of 5 bytes at 1000: %.1f%% of %zu chunks unchanged\n",
                p.avg_size, 100 * f, before.size());
    EXPECT_GE(f, 0.8);
    // Only the chunks around the edit may change.
    EXPECT_GE(before.size() - size_t(f * before.size() + 0.5), 1u);
    EXPECT_LE(before.size() - size_t(f * before.size() + 0.5), 3u);
  }
}

TEST(Chunker, ResynchronizesAfterInsertInTheMiddle) {
  GearTable t(key_of(9));
  Chunker c(t, kSmall);
  Bytes data = random_data(16u << 20, 22);
  Bytes edited = data;
  edited.insert(edited.begin() + (8u << 20) + 12345, 3, 0x77);
  auto before = chunk_ids(c, data);
  auto after = chunk_ids(c, edited);
  double f = shared_fraction(before, after);
  EXPECT_GE(f, 0.8);
  EXPECT_LT(f, 1.0);
}

TEST(Chunker, AppendKeepsEveryChunkButTheTail) {
  GearTable t(key_of(9));
  for (ChunkerParams p : {kSmall, ChunkerParams{}}) {
    Chunker c(t, p);
    Bytes data = random_data(16u << 20, 23);
    Bytes appended = data;
    Bytes more = random_data(300u << 10, 24);
    appended.insert(appended.end(), more.begin(), more.end());
    auto before = chunk_ids(c, data);
    auto after = chunk_ids(c, appended);
    ASSERT_GE(before.size(), 2u);
    std::vector<Id> all_but_tail(before.begin(), before.end() - 1);
    EXPECT_EQ(shared_fraction(all_but_tail, after), 1.0) << "avg " << p.avg_size;
    // Chunks before the tail are identical and in the same order.
    EXPECT_TRUE(std::equal(all_but_tail.begin(), all_but_tail.end(), after.begin()));
  }
}

TEST(ChunkerThroughput, Print) {
  GearTable t(key_of(0));
  Chunker c(t, ChunkerParams{});
  Bytes data = random_data(64u << 20, 1);
  constexpr int kRounds = 4;
  size_t chunks = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) chunks += chunk_all(c, data).size();
  auto t1 = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(t1 - t0).count();
  // Input consumed per second; the first min_size - 64 bytes of every chunk
  // are skipped, not hashed.
  std::printf("chunker: %.0f MB/s of input (%zu chunks)\n",
              double(data.size()) * kRounds / 1e6 / s, chunks);
  // The hash loop itself: with min_size = 1 nearly every byte is hashed.
  Chunker dense(t, ChunkerParams{1, 1u << 20, 8u << 20});
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) chunks += chunk_all(dense, data).size();
  t1 = std::chrono::steady_clock::now();
  s = std::chrono::duration<double>(t1 - t0).count();
  std::printf("chunker hash loop (min=1): %.0f MB/s\n", double(data.size()) * kRounds / 1e6 / s);
}

}  // namespace
}  // namespace lifeboat::chunk
