#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "base/hex.h"

namespace lifeboat::crypto {
namespace {

Bytes unhex(std::string_view s) {
  auto b = from_hex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

Key32 key_from_hex(std::string_view s) {
  Bytes b = unhex(s);
  Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

Nonce nonce_from_hex(std::string_view s) {
  Bytes b = unhex(s);
  Nonce n{};
  EXPECT_EQ(b.size(), n.size());
  std::copy(b.begin(), b.end(), n.begin());
  return n;
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16
// (AES-256, 96-bit IV, 60-byte plaintext, 20-byte AAD).
TEST(Aead, GcmSpecTestCase16) {
  Aead aead(key_from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"));
  Nonce iv = nonce_from_hex("cafebabefacedbaddecaf888");
  Bytes pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  Bytes aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string expected =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";  // tag

  Bytes out = {0xAA, 0xBB};  // seal appends
  aead.seal(iv, pt, aad, out);
  ASSERT_EQ(out.size(), 2 + pt.size() + kTagSize);
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(to_hex(ByteView(out).subspan(2)), expected);

  Bytes back;
  ASSERT_TRUE(aead.open(iv, ByteView(out).subspan(2), aad, back));
  EXPECT_EQ(back, pt);
}

// Same paper, test cases 13 and 14: zero key, zero IV, no AAD.
TEST(Aead, GcmSpecTestCases13And14) {
  Aead aead(Key32{});
  Nonce zero{};
  Bytes out;
  aead.seal(zero, {}, {}, out);
  EXPECT_EQ(to_hex(out), "530f8afbc74536b9a963b4f1c4cb738b");
  out.clear();
  aead.seal(zero, Bytes(16, 0), {}, out);
  EXPECT_EQ(to_hex(out), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  Bytes back = {1, 2, 3};
  ASSERT_TRUE(aead.open(zero, out, {}, back));
  EXPECT_EQ(back, Bytes(16, 0));
}

TEST(Aead, CounterNonceLayout) {
  EXPECT_EQ(to_hex(counter_nonce(0)), "000000000000000000000000");
  EXPECT_EQ(to_hex(counter_nonce(1)), "000000000100000000000000");
  EXPECT_EQ(to_hex(counter_nonce(0x0102030405060708ull)), "000000000807060504030201");
}

class AeadTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < key_.size(); ++i) key_[i] = static_cast<uint8_t>(i + 1);
    pt_.resize(1000);
    for (size_t i = 0; i < pt_.size(); ++i) pt_[i] = static_cast<uint8_t>(i * 31);
    Aead(key_).seal(counter_nonce(5), pt_, aad_, sealed_);
  }
  bool opens(ByteView sealed, Nonce nonce, ByteView aad) const {
    Bytes out;
    return Aead(key_).open(nonce, sealed, aad, out);
  }
  Key32 key_{};
  Bytes pt_;
  Bytes aad_ = {'p', 'a', 'c', 'k'};
  Bytes sealed_;
};

TEST_F(AeadTamper, RoundTrip) {
  Bytes out;
  ASSERT_TRUE(Aead(key_).open(counter_nonce(5), sealed_, aad_, out));
  EXPECT_EQ(out, pt_);
}

TEST_F(AeadTamper, FlippedCiphertextBitFails) {
  for (size_t pos : {size_t{0}, size_t{500}, pt_.size() - 1}) {
    Bytes bad = sealed_;
    bad[pos] ^= 0x01;
    EXPECT_FALSE(opens(bad, counter_nonce(5), aad_)) << pos;
  }
}

TEST_F(AeadTamper, FlippedTagBitFails) {
  for (size_t i = 0; i < kTagSize; ++i) {
    Bytes bad = sealed_;
    bad[pt_.size() + i] ^= 0x80;
    EXPECT_FALSE(opens(bad, counter_nonce(5), aad_)) << i;
  }
}

TEST_F(AeadTamper, WrongAadNonceOrKeyFails) {
  EXPECT_FALSE(opens(sealed_, counter_nonce(5), as_bytes("pacK")));
  EXPECT_FALSE(opens(sealed_, counter_nonce(5), {}));
  EXPECT_FALSE(opens(sealed_, counter_nonce(6), aad_));
  Key32 other = key_;
  other[0] ^= 1;
  Bytes out;
  EXPECT_FALSE(Aead(other).open(counter_nonce(5), sealed_, aad_, out));
}

TEST_F(AeadTamper, TruncatedOrShortInputFails) {
  EXPECT_FALSE(opens(ByteView(sealed_).first(sealed_.size() - 1), counter_nonce(5), aad_));
  EXPECT_FALSE(opens(ByteView(sealed_).first(kTagSize), counter_nonce(5), aad_));
  EXPECT_FALSE(opens(ByteView(sealed_).first(kTagSize - 1), counter_nonce(5), aad_));
  EXPECT_FALSE(opens({}, counter_nonce(5), aad_));
}

TEST(AeadThroughput, Print) {
  Key32 key{};
  key[3] = 9;
  Aead aead(key);
  Bytes pt(8u << 20, 0x5a);
  Bytes out;
  out.reserve(pt.size() + kTagSize);
  constexpr int kRounds = 16;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    out.clear();
    aead.seal(counter_nonce(i), pt, {}, out);
  }
  auto t1 = std::chrono::steady_clock::now();
  Bytes back;
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(aead.open(counter_nonce(kRounds - 1), out, {}, back));
  auto t2 = std::chrono::steady_clock::now();
  double mb = double(pt.size()) * kRounds / 1e6;
  std::printf("AES-256-GCM seal: %.0f MB/s, open: %.0f MB/s\n",
              mb / std::chrono::duration<double>(t1 - t0).count(),
              mb / std::chrono::duration<double>(t2 - t1).count());
}

}  // namespace
}  // namespace lifeboat::crypto
