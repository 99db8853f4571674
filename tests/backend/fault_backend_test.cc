#include "backend/fault_backend.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "backend/mem_backend.h"

namespace lifeboat::backend {
namespace {

const std::string kId = "ab" + std::string(62, '1');

template <typename Fn>
Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "no error");
}

Handle data(int i) { return Handle{ObjectType::kData, kId.substr(0, 62) + std::to_string(10 + i)}; }

class FaultBackendTest : public ::testing::Test {
 protected:
  std::shared_ptr<MemBackend> mem_ = std::make_shared<MemBackend>();
  FaultBackend fault_{mem_};
};

TEST_F(FaultBackendTest, ForwardsEverything) {
  EXPECT_EQ(fault_.location(), "mem:");
  fault_.create();
  fault_.save(data(1), as_bytes("hello"));
  EXPECT_EQ(as_chars(fault_.load(data(1), 1, 3)), "ell");
  EXPECT_EQ(fault_.size(data(1)), 5u);
  int n = 0;
  fault_.list(ObjectType::kData, [&](std::string_view, uint64_t size) {
    EXPECT_EQ(size, 5u);
    ++n;
  });
  EXPECT_EQ(n, 1);
  fault_.remove(data(1));
  EXPECT_EQ(mem_->size(data(1)), std::nullopt);
  EXPECT_EQ(fault_.saves(), 1u);
}

TEST_F(FaultBackendTest, FailsTheNthSaveOnly) {
  fault_.fail_save_at(3, false);
  fault_.save(data(1), as_bytes("1"));
  fault_.save(data(2), as_bytes("2"));
  Error e = error_of([&] { fault_.save(data(3), as_bytes("3")); });
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_EQ(std::string(e.what()), "injected fault saving " + data(3).path());
  EXPECT_EQ(mem_->size(data(3)), std::nullopt);  // never reached the inner backend
  fault_.save(data(4), as_bytes("4"));
  fault_.save(data(3), as_bytes("3"));  // a retry is save number 5, which succeeds
  EXPECT_EQ(fault_.saves(), 5u);
}

TEST_F(FaultBackendTest, FailsTheNthSaveAndAfter) {
  fault_.fail_save_at(2, true);
  fault_.save(data(1), as_bytes("1"));
  for (int i = 2; i < 6; ++i) {
    EXPECT_EQ(error_of([&] { fault_.save(data(i), as_bytes("x")); }).code(), ErrorCode::kIo);
  }
  fault_.fail_save_at(0, false);  // healed
  fault_.save(data(2), as_bytes("2"));
  EXPECT_EQ(mem_->size(data(2)), 1u);
}

TEST_F(FaultBackendTest, FailsLoadsOfOneTypeACountedNumberOfTimes) {
  Handle idx{ObjectType::kIndex, "i"};
  fault_.save(idx, as_bytes("index"));
  fault_.save(data(1), as_bytes("data"));
  fault_.fail_loads(ObjectType::kIndex, 2);
  for (int i = 0; i < 2; ++i) {
    Error e = error_of([&] { fault_.load(idx, 0, 0); });
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("index/i"), std::string::npos);
    EXPECT_EQ(as_chars(fault_.load(data(1), 0, 0)), "data");  // other types unaffected
  }
  EXPECT_EQ(as_chars(fault_.load(idx, 0, 0)), "index");
}

TEST_F(FaultBackendTest, FlipsOneBitOfLoadedRanges) {
  Bytes original(101);
  for (size_t i = 0; i < original.size(); ++i) original[i] = static_cast<uint8_t>(i);
  fault_.save(data(1), original);
  fault_.save(Handle{ObjectType::kSnapshot, "s"}, original);
  fault_.flip_bits_on_load(ObjectType::kData, true);

  auto differing_bits = [](const Bytes& a, const Bytes& b) {
    int bits = 0;
    for (size_t i = 0; i < a.size(); ++i) bits += __builtin_popcount(a[i] ^ b[i]);
    return bits;
  };
  Bytes whole = fault_.load(data(1), 0, 0);
  ASSERT_EQ(whole.size(), original.size());
  EXPECT_EQ(differing_bits(whole, original), 1);
  Bytes range = fault_.load(data(1), 10, 20);
  EXPECT_EQ(differing_bits(range, Bytes(original.begin() + 10, original.begin() + 30)), 1);
  EXPECT_TRUE(fault_.load(data(1), 101, 0).empty());  // nothing to flip
  EXPECT_EQ(fault_.load(Handle{ObjectType::kSnapshot, "s"}, 0, 0), original);
  EXPECT_EQ(mem_->load(data(1), 0, 0), original);  // stored bytes untouched

  fault_.flip_bits_on_load(ObjectType::kData, false);
  EXPECT_EQ(fault_.load(data(1), 0, 0), original);
}

TEST_F(FaultBackendTest, SlowsLoadsOfOneTypeByLatencyAndBandwidth) {
  using std::chrono::steady_clock;
  fault_.save(data(1), Bytes(100000, 7));
  fault_.save(Handle{ObjectType::kSnapshot, "s"}, as_bytes("x"));
  auto timed = [&](const Handle& h, uint64_t length) {
    auto t0 = steady_clock::now();
    EXPECT_EQ(fault_.load(h, 0, length).size(), length);
    return std::chrono::duration<double>(steady_clock::now() - t0).count();
  };
  fault_.slow_loads(ObjectType::kData, std::chrono::milliseconds(50), 1000000);
  EXPECT_GE(timed(data(1), 10), 0.050);
  EXPECT_GE(timed(data(1), 50000), 0.050 + 0.050);                 // 50 kB at 1 MB/s
  EXPECT_LT(timed(Handle{ObjectType::kSnapshot, "s"}, 1), 0.050);  // other types unaffected
  fault_.slow_loads(ObjectType::kData, std::chrono::microseconds(0), 0);
  EXPECT_LT(timed(data(1), 10), 0.050);
}

TEST_F(FaultBackendTest, InnerErrorsPassThrough) {
  EXPECT_EQ(error_of([&] { fault_.load(data(9), 0, 0); }).code(), ErrorCode::kNotFound);
  fault_.save(data(1), as_bytes("x"));
  EXPECT_EQ(error_of([&] { fault_.save(data(1), as_bytes("y")); }).code(),
            ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace lifeboat::backend
