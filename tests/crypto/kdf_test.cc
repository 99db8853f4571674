#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include <optional>

#include "base/error.h"
#include "base/hex.h"
#include "crypto/random.h"

namespace lifeboat::crypto {
namespace {

Bytes salt_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Expected values computed with an independent Argon2id implementation
// (python cryptography's Argon2id: lanes=1, memory_cost in KiB =
// mem_limit / 1024, iterations = ops_limit, version 0x13), which is what
// libsodium's crypto_pwhash uses.
TEST(DeriveKey, Argon2idKnownAnswers) {
  EXPECT_EQ(to_hex(derive_key("correct horse battery staple", salt_of("0123456789abcdef"),
                              KdfParams::for_tests())),
            "5dd4c928fbd5a4474236ef76d9d8304178fe5df3884d2d383e91b7703327e6c1");
  Bytes salt(16);
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(to_hex(derive_key("password", salt, KdfParams{2, 64u << 10})),
            "716882821df77bc6414358b07159fb63ca1c90beaeb9d0ca0e43bd887dcf2ca9");
}

TEST(DeriveKey, DeterministicAndSensitiveToEveryInput) {
  const auto p = KdfParams::for_tests();
  Bytes salt = salt_of("saltsaltsaltsalt");
  Key32 k = derive_key("hunter2", salt, p);
  EXPECT_EQ(k, derive_key("hunter2", salt, p));
  EXPECT_NE(k, derive_key("hunter3", salt, p));
  EXPECT_NE(k, derive_key("", salt, p));
  Bytes salt2 = salt;
  salt2[15] ^= 1;
  EXPECT_NE(k, derive_key("hunter2", salt2, p));
  EXPECT_NE(k, derive_key("hunter2", salt, KdfParams{2, p.mem_limit}));
  EXPECT_NE(k, derive_key("hunter2", salt, KdfParams{1, 16u << 10}));
}

TEST(DeriveKey, RejectsBadSaltAndParams) {
  auto code_of = [](auto f) -> std::optional<ErrorCode> {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  };
  auto p = KdfParams::for_tests();
  EXPECT_EQ(code_of([&] { derive_key("x", Bytes(15), p); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { derive_key("x", Bytes(32), p); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { derive_key("x", {}, p); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { derive_key("x", Bytes(16), KdfParams{0, p.mem_limit}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { derive_key("x", Bytes(16), KdfParams{1, 4096}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_NO_THROW(derive_key("x", Bytes(16), p));
}

TEST(RandomBytes, FillsAndDiffers) {
  Bytes a = random_bytes(64), b = random_bytes(64);
  ASSERT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(64, 0));
  std::array<uint8_t, 32> buf{};
  random_bytes(MutableByteView(buf));
  EXPECT_NE(buf, (std::array<uint8_t, 32>{}));
  EXPECT_TRUE(random_bytes(0).empty());
}

}  // namespace
}  // namespace lifeboat::crypto
