#include "base/bounded_queue.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/clock.h"
#include "base/error.h"
#include "base/hex.h"
#include "base/id.h"
#include "base/thread_pool.h"

namespace lifeboat {
namespace {

TEST(BoundedQueue, DeliversEverythingInOrderAndBlocksWhenFull) {
  BoundedQueue<int> q(2);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.push(i));
    q.close();
  });
  int expected = 0;
  while (auto v = q.pop()) {
    EXPECT_LE(q.size(), 2u);
    EXPECT_EQ(*v, expected++);
  }
  producer.join();
  EXPECT_EQ(expected, 1000);
  EXPECT_FALSE(q.push(1));
}

TEST(ThreadPool, RunsAllTasksAndRethrowsFirstError) {
  ThreadPool pool(2, 4);
  std::atomic<int> sum{0};
  for (int i = 1; i <= 100; ++i) pool.submit([&, i] { sum += i; });
  pool.wait();
  EXPECT_EQ(sum.load(), 5050);
  pool.submit([] { throw Error(ErrorCode::kIo, "boom"); });
  EXPECT_THROW(pool.wait(), Error);
  pool.submit([&] { sum += 1; });
  pool.wait();  // the error was consumed
  EXPECT_EQ(sum.load(), 5051);
}

TEST(Hex, RoundTripsAndRejectsGarbage) {
  Bytes b{0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "00abff");
  EXPECT_EQ(*from_hex("00ABff"), b);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(Id::from_hex("00"));
  Id id = *Id::from_hex(std::string(64, 'a'));
  EXPECT_EQ(id.hex(), std::string(64, 'a'));
}

TEST(Clock, FormatsAndParsesRfc3339) {
  UnixNanos t = 1764106047123456789;
  std::string s = format_rfc3339(t);
  EXPECT_EQ(s, "2025-11-25T21:27:27.123456789Z");
  EXPECT_EQ(parse_rfc3339(s), t);
  EXPECT_EQ(parse_rfc3339("2025-11-25T21:27:27Z"), 1764106047000000000);
  EXPECT_THROW(parse_rfc3339("yesterday"), Error);
}

TEST(Error, MapsErrno) {
  EXPECT_EQ(error_code_from_errno(ENOSPC), ErrorCode::kNoSpace);
  EXPECT_EQ(error_code_from_errno(ENOENT), ErrorCode::kNotFound);
  try {
    throw_errno("open /x", EACCES);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPermission);
    EXPECT_NE(std::string(e.what()).find("open /x"), std::string::npos);
  }
}

}  // namespace
}  // namespace lifeboat
