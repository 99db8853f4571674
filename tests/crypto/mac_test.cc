#include "crypto/mac.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"

namespace lifeboat::crypto {
namespace {

Bytes unhex(std::string_view s) {
  auto b = from_hex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

// HMAC zero-pads keys shorter than the 64-byte block, so a short RFC key
// padded with zeros to 32 bytes is the same HMAC key: RFC 4231 cases with
// keys of at most 32 bytes test IdHasher exactly.
Key32 padded_key(ByteView k) {
  Key32 key{};
  std::copy(k.begin(), k.end(), key.begin());
  return key;
}

std::string repeat_hex(std::string_view byte_hex, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += byte_hex;
  return s;
}

struct HmacCase {
  std::string key_hex;
  std::string data_hex;
  std::string mac_hex;
};

TEST(IdHasher, Rfc4231KnownAnswers) {
  const HmacCase cases[] = {
      {repeat_hex("0b", 20), to_hex(as_bytes("Hi There")),  // test case 1
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {to_hex(as_bytes("Jefe")), to_hex(as_bytes("what do ya want for nothing?")),  // 2
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {repeat_hex("aa", 20), repeat_hex("dd", 50),  // 3
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"0102030405060708090a0b0c0d0e0f10111213141516171819", repeat_hex("cd", 50),  // 4
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
  };
  for (const auto& c : cases) {
    IdHasher h(padded_key(unhex(c.key_hex)));
    EXPECT_EQ(h.mac(unhex(c.data_hex)).hex(), c.mac_hex) << "key " << c.key_hex;
  }
}

TEST(IdHasher, ReusableAndKeyed) {
  Key32 k1{}, k2{};
  k2[31] = 1;
  IdHasher h1(k1), h2(k2);
  auto msg = as_bytes("some blob");
  EXPECT_EQ(h1.mac(msg), h1.mac(msg));  // the prepared context is not consumed
  EXPECT_NE(h1.mac(msg), h2.mac(msg));
  EXPECT_NE(h1.mac(msg), h1.mac(as_bytes("some blob!")));
  EXPECT_NE(h1.mac(msg), sha256(msg));
  EXPECT_EQ(h1.mac({}).hex(), IdHasher(k1).mac(ByteView{}).hex());
}

TEST(IdHasher, ThreadSafe) {
  Key32 key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7);
  IdHasher hasher(key);
  std::vector<Bytes> inputs;
  std::vector<Id> expected;
  for (int i = 0; i < 64; ++i) {
    inputs.emplace_back(static_cast<size_t>(i * 1031), static_cast<uint8_t>(i));
    expected.push_back(IdHasher(key).mac(inputs.back()));
  }
  constexpr int kThreads = 6;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          size_t j = (i + t * 11 + round) % inputs.size();
          if (hasher.mac(inputs[j]) != expected[j]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Sha256, Fips180KnownAnswers) {
  EXPECT_EQ(sha256({}).hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256(as_bytes("abc")).hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Bytes million(1000000, 'a');
  EXPECT_EQ(sha256(million).hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Stream, MatchesOneShotAcrossPieces) {
  Bytes million(1000000, 'a');
  Sha256Stream s;
  size_t off = 0;
  for (size_t piece = 1; off < million.size(); piece = piece * 3 + 1) {
    size_t n = std::min(piece, million.size() - off);
    s.update(ByteView(million).subspan(off, n));
    off += n;
  }
  EXPECT_EQ(s.finish().hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  Sha256Stream empty;
  EXPECT_EQ(empty.finish(), sha256({}));
}

TEST(Hkdf, Rfc5869TestCase1) {
  // L = 42 in the RFC; the first 32 bytes of OKM are T(1), independent of L.
  Bytes ikm(22, 0x0b);
  Bytes salt = unhex("000102030405060708090a0b0c");
  Bytes info = unhex("f0f1f2f3f4f5f6f7f8f9");
  Key32 okm = hkdf_sha256(ByteView(ikm), salt, as_chars(info));
  EXPECT_EQ(to_hex(okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(Hkdf, Rfc5869TestCase3EmptySaltAndInfo) {
  Bytes ikm(22, 0x0b);
  Key32 okm = hkdf_sha256(ByteView(ikm), {}, "");
  EXPECT_EQ(to_hex(okm), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

TEST(Hkdf, Key32OverloadMatchesAndSeparatesInputs) {
  Key32 key{};
  key[0] = 42;
  Bytes salt(32, 7);
  EXPECT_EQ(hkdf_sha256(key, salt, "pack"), hkdf_sha256(ByteView(key), salt, "pack"));
  EXPECT_NE(hkdf_sha256(key, salt, "pack"), hkdf_sha256(key, salt, "index"));
  Bytes salt2 = salt;
  salt2[31] ^= 1;
  EXPECT_NE(hkdf_sha256(key, salt, "pack"), hkdf_sha256(key, salt2, "pack"));
}

TEST(MacThroughput, Print) {
  IdHasher hasher(Key32{});
  Bytes blob(1u << 20, 0x33);
  constexpr int kRounds = 128;
  Id sink{};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) sink.bytes[i % 32] ^= hasher.mac(blob).bytes[0];
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) sink.bytes[i % 32] ^= sha256(blob).bytes[0];
  auto t2 = std::chrono::steady_clock::now();
  double mb = double(blob.size()) * kRounds / 1e6;
  std::printf("HMAC-SHA-256 (1 MiB blobs): %.0f MB/s, SHA-256: %.0f MB/s (%d)\n",
              mb / std::chrono::duration<double>(t1 - t0).count(),
              mb / std::chrono::duration<double>(t2 - t1).count(), sink.bytes[0] & 1);
}

}  // namespace
}  // namespace lifeboat::crypto
