// forget's plan: filters, grouping (node and account by default), one
// retention decision per group, and explicit ids.

#include "repo/forget_plan.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/error.h"

namespace lifeboat::repo {
namespace {

constexpr int64_t kDay = 24 * 3600LL * 1000000000LL;

std::pair<Id, Snapshot> snap(uint8_t n, const std::string& node, const std::string& account, int day,
                             std::vector<std::string> tags = {}) {
  Id id;
  id.bytes[0] = n;
  Snapshot s;
  s.node = node;
  s.account = account;
  s.time = parse_rfc3339("2026-03-01T12:00:00Z") + day * kDay;
  s.tags = std::move(tags);
  return {id, s};
}

std::vector<uint8_t> ids(const std::vector<ForgetEntry>& entries) {
  std::vector<uint8_t> out;
  for (const auto& e : entries) out.push_back(e.id.bytes[0]);
  return out;
}

const UnixNanos kNow = parse_rfc3339("2026-04-01T00:00:00Z");

std::vector<std::pair<Id, Snapshot>> history() {
  return {snap(1, "web1", "alice", 0), snap(2, "web1", "alice", 1), snap(3, "web1", "alice", 2),
          snap(4, "web1", "bob", 0),   snap(5, "web1", "bob", 1, {"keep"}), snap(6, "web2", "alice", 3)};
}

TEST(ForgetPlan, DecidesPerNodeAndAccountByDefault) {
  RetentionPolicy p;
  p.last = 1;
  auto groups = plan_forget(history(), {}, parse_group_by("node,account"), p, kNow);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(*groups[0].node, "web1");
  EXPECT_EQ(*groups[0].account, "alice");
  EXPECT_EQ(ids(groups[0].keep), std::vector<uint8_t>{3});
  EXPECT_EQ(ids(groups[0].remove), (std::vector<uint8_t>{1, 2}));  // oldest first
  EXPECT_EQ(groups[0].keep[0].reasons, std::vector<std::string>{"last"});
  EXPECT_EQ(ids(groups[1].keep), std::vector<uint8_t>{5});
  EXPECT_EQ(ids(groups[2].keep), std::vector<uint8_t>{6});
  EXPECT_TRUE(groups[2].remove.empty());
}

TEST(ForgetPlan, GroupByAccountOrNoneMergesGroups) {
  RetentionPolicy p;
  p.last = 1;
  auto by_account = plan_forget(history(), {}, parse_group_by("account"), p, kNow);
  ASSERT_EQ(by_account.size(), 2u);
  EXPECT_FALSE(by_account[0].node);
  EXPECT_EQ(ids(by_account[0].keep), std::vector<uint8_t>{6});  // web2's alice is the newest alice
  auto all = plan_forget(history(), {}, parse_group_by("none"), p, kNow);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].remove.size(), 5u);
  EXPECT_THROW(parse_group_by("host"), Error);
}

TEST(ForgetPlan, FiltersLeaveOtherSnapshotsAlone) {
  RetentionPolicy p;
  p.last = 1;
  p.keep_tags = {"keep"};
  ForgetFilter f;
  f.node = "web1";
  f.accounts = {"bob"};
  auto groups = plan_forget(history(), f, {}, p, kNow);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(ids(groups[0].keep), std::vector<uint8_t>{5});
  EXPECT_EQ(groups[0].keep[0].reasons, (std::vector<std::string>{"last", "tag:keep"}));
  EXPECT_EQ(ids(groups[0].remove), std::vector<uint8_t>{4});
  ForgetFilter tagged;
  tagged.tags = {"keep", "other"};
  EXPECT_EQ(plan_forget(history(), tagged, {}, p, kNow).size(), 1u);
}

TEST(ForgetPlan, ExplicitIdsAreAllRemoved) {
  auto h = history();
  auto groups = plan_forget_ids({h[4], h[0]}, {});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(ids(groups[0].remove), std::vector<uint8_t>{1});
  EXPECT_EQ(ids(groups[1].remove), std::vector<uint8_t>{5});
  EXPECT_TRUE(groups[0].keep.empty());
}

}  // namespace
}  // namespace lifeboat::repo
