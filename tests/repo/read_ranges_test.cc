#include "repo/read_ranges.h"

#include <gtest/gtest.h>

namespace lifeboat::repo {
namespace {

TEST(ReadRanges, JoinsNeighboursOfOnePackWithinGapAndSize) {
  RangeLimits limits{100, 10};
  std::vector<BlobSpan> blobs = {
      {1, 0, 20},   // range 0
      {1, 25, 20},  // gap 5: joined
      {1, 55, 10},  // gap 10: joined (0..65)
      {1, 80, 10},  // gap 15: new range
      {1, 90, 30},  // joined: 80..120 is 40 bytes
      {1, 120, 70}, // 80..190 would be 110 > 100: new range
      {2, 190, 5},  // another pack: new range
      {2, 195, 500},  // larger than max_range: read alone
  };
  auto r = coalesce_reads(blobs, limits);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].offset, 0u);
  EXPECT_EQ(r[0].length, 65u);
  EXPECT_EQ(r[0].begin, 0u);
  EXPECT_EQ(r[0].end, 3u);
  EXPECT_EQ(r[1].offset, 80u);
  EXPECT_EQ(r[1].length, 40u);
  EXPECT_EQ(r[2].offset, 120u);
  EXPECT_EQ(r[2].length, 70u);
  EXPECT_EQ(r[3].pack, 2u);
  EXPECT_EQ(r[3].length, 5u);
  EXPECT_EQ(r[4].length, 500u);
  EXPECT_EQ(r[4].end, 8u);
  EXPECT_TRUE(coalesce_reads({}, limits).empty());
}

}  // namespace
}  // namespace lifeboat::repo
