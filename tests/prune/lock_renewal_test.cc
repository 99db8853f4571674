// prune's renewal of retention locks (prune/lock_renewal.h), against a
// backend that pretends to lock: which objects are renewed, and what an
// unreachable or missing object does.
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "prune/lock_renewal.h"

namespace lifeboat {
namespace {

using backend::Handle;
using backend::ObjectType;

// Objects named "renew*" end soon, "gone*" are missing; with `down`, every
// call fails as unreachable storage does once its retries are spent.
class PretendLocked : public backend::MemBackend {
 public:
  int64_t lock_period_seconds() const override { return 30 * 86400; }
  bool renew_lock(const Handle& h, int64_t at_least_seconds) override {
    ++calls;
    EXPECT_EQ(at_least_seconds, 15 * 86400);
    if (down) throw Error(ErrorCode::kUnavailable, "connection refused");
    if (h.name.rfind("gone", 0) == 0) throw Error(ErrorCode::kNotFound, h.describe() + " is not there");
    return h.name.rfind("renew", 0) == 0;
  }
  std::atomic<int> calls{0};
  bool down = false;
};

std::vector<Handle> handles(const std::vector<std::string>& names) {
  std::vector<Handle> out;
  for (const auto& n : names) out.push_back({ObjectType::kIndex, n});
  return out;
}

TEST(LockRenewal, RenewsWhatEndsSoonAndSkipsWhatIsGone) {
  PretendLocked b;
  std::vector<std::string> warnings;
  auto r = prune::renew_locks(b, handles({"renew1", "keep1", "renew2", "gone1", "keep2"}),
                              [&](const std::string& w) { warnings.push_back(w); }, 2);
  EXPECT_EQ(r.checked, 4u);
  EXPECT_EQ(r.renewed, 2u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_TRUE(warnings.empty());
}

TEST(LockRenewal, UnreachableStorageStopsAtTheFirstFailureWithOneWarning) {
  PretendLocked b;
  b.down = true;
  std::vector<std::string> names;
  for (int i = 0; i < 500; ++i) names.push_back("renew" + std::to_string(i));
  std::vector<std::string> warnings;
  auto r = prune::renew_locks(b, handles(names), [&](const std::string& w) { warnings.push_back(w); }, 4);
  EXPECT_EQ(r.failed, 500u);
  EXPECT_EQ(r.renewed, 0u);
  EXPECT_LE(b.calls.load(), 4) << "each thread stops after the first unreachable answer";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("renewal stopped"), std::string::npos) << warnings[0];
}

TEST(LockRenewal, NothingWhereNothingIsLocked) {
  backend::MemBackend plain;
  auto r = prune::renew_locks(plain, handles({"a", "b"}), {}, 2);
  EXPECT_EQ(r.checked + r.renewed + r.failed, 0u);
}

}  // namespace
}  // namespace lifeboat
