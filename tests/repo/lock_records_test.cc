// The records under locks/ (repo/lock_records.h): names, sealing, and a
// directory read that never loses a writer renewing its marker meanwhile.
#include <gtest/gtest.h>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "crypto/random.h"
#include "repo/keys.h"
#include "repo/lock_records.h"

namespace lifeboat::repo {
namespace {

using backend::Handle;
using backend::ObjectType;

LockRecord writer_record(uint64_t seq) {
  LockRecord r;
  r.kind = LockKind::kWriter;
  r.run = std::string(48, 'a');
  r.seq = seq;
  r.time = r.started = 1'700'000'000'000'000'000;
  r.what = "node backup web1";
  r.ready = true;
  r.plans = {Id{}};
  return r;
}

TEST(LockRecords, RoundTripAndNameBinding) {
  MasterKeys keys = MasterKeys::generate();
  LockRecord r = writer_record(7);
  Bytes sealed = encode_lock_record(keys.encryption, r);
  LockRecord back = decode_lock_record(keys.encryption, sealed, r.name());
  EXPECT_EQ(back.run, r.run);
  EXPECT_EQ(back.seq, 7u);
  EXPECT_EQ(back.what, r.what);
  EXPECT_TRUE(back.ready);
  ASSERT_EQ(back.plans.size(), 1u);
  // Moved to another name it would impersonate another run or renewal.
  EXPECT_THROW(decode_lock_record(keys.encryption, sealed, writer_record(8).name()), Error);
  auto parsed = parse_lock_name(r.name());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, r.run);
  EXPECT_EQ(parsed->second, 7u);
  EXPECT_FALSE(parse_lock_name("not-a-record"));
}

// A backend on which a writer renews its marker exactly between prune's
// listing of locks/ and its read of the record.
class RenewingBackend : public backend::MemBackend {
 public:
  explicit RenewingBackend(const crypto::Key32& key) : key_(key) {}
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override {
    if (h.type == ObjectType::kLock && h.name == writer_record(1).name() && !renewed_) {
      renewed_ = true;
      MemBackend::save({ObjectType::kLock, writer_record(2).name()}, encode_lock_record(key_, writer_record(2)));
      MemBackend::remove(h);
    }
    return MemBackend::load(h, offset, length);
  }

 private:
  crypto::Key32 key_;
  bool renewed_ = false;
};

TEST(LockRecords, AWriterRenewingDuringTheReadIsStillSeen) {
  MasterKeys keys = MasterKeys::generate();
  RenewingBackend be(keys.encryption);
  be.save({ObjectType::kLock, writer_record(1).name()}, encode_lock_record(keys.encryption, writer_record(1)));
  LockDirectory dir = read_lock_directory(be, keys.encryption);
  auto writers = dir.latest(LockKind::kWriter);
  ASSERT_EQ(writers.size(), 1u) << "the renewing writer vanished from prune's view";
  EXPECT_EQ(writers[0].seq, 2u);
  EXPECT_TRUE(dir.unreadable.empty());
}

TEST(LockRecords, StaleByTimeOrByAGoneProcess) {
  LockRecord r = writer_record(1);
  r.host = "elsewhere";
  r.pid = 1;
  r.time = 1000 * kSecond;
  EXPECT_FALSE(lock_record_stale(r, r.time + kMarkerStaleAfter - kSecond, kMarkerStaleAfter));
  EXPECT_TRUE(lock_record_stale(r, r.time + kMarkerStaleAfter + kSecond, kMarkerStaleAfter));
  // This process is alive.
  fill_process_identity(r);
  EXPECT_FALSE(process_certainly_gone(r));
  EXPECT_NE(r.process_start.find('/'), std::string::npos);
  // A record whose pid now belongs to a process started at another time
  // (pids are reused: a killed prune's pid given to a later command).
  LockRecord reused = r;
  reused.pid = 1;  // exists in every pid namespace
  reused.process_start = r.process_start.substr(0, r.process_start.find('/')) + "/1";
  EXPECT_TRUE(process_certainly_gone(reused));
  // And one from before the machine booted.
  reused.process_start = "another-boot/1";
  EXPECT_TRUE(process_certainly_gone(reused));
}

}  // namespace
}  // namespace lifeboat::repo
