#include "node/drill.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "node/node_backup.h"
#include "support/files.h"
#include "support/mem_repo.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

// Six accounts of node web1, each with a shared file and one of its own.
struct DrillNode {
  test::TempDir dir;
  test::MemRepo r;
  std::vector<std::string> names;
  DrillNode() {
    const std::string root = dir.sub("home");
    ::mkdir(root.c_str(), 0755);
    for (int i = 0; i < 6; ++i) {
      names.push_back("user" + std::to_string(i));
      const std::string d = root + "/" + names.back();
      ::mkdir(d.c_str(), 0750);
      test::write_file(d + "/shared.php", test::seeded_bytes(30000, 1));
      test::write_file(d + "/own.bin", test::seeded_bytes(50000, 100 + static_cast<uint64_t>(i)));
    }
    NodeBackupOptions o;
    o.root = root;
    o.node = "web1";
    o.accounts = names;
    EXPECT_TRUE(run_node_backup(*r.repo, o).all_ok());
  }
  // Flips a bit of the blob holding `account`'s own.bin.
  void damage(const std::string& account) {
    std::ifstream in(dir.sub("home/" + account + "/own.bin"), std::ios::binary);
    std::string own((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Id blob = r.repo->hash(ByteView(reinterpret_cast<const uint8_t*>(own.data()), own.size()));
    auto loc = r.repo->index().find(blob);
    ASSERT_TRUE(loc);
    backend::Handle h{backend::ObjectType::kData, loc->pack.hex()};
    Bytes pack = r.be->load(h, 0, 0);
    pack[loc->entry.offset + 9] ^= 0x10;
    r.be->corrupt(h, pack);
  }
};

TEST(Drill, SampleRestoresVerifiesAndCleansUp) {
  DrillNode n;
  DrillOptions o;
  o.sample = 3;
  o.seed = 42;
  o.scratch = n.dir.sub("scratch");
  DrillResult r = run_drill(*n.r.repo, o);
  EXPECT_EQ(r.accounts.size(), 3u);
  EXPECT_EQ(r.ok, 3u);
  for (const auto& a : r.accounts) {
    EXPECT_TRUE(a.ok) << a.account;
    EXPECT_EQ(a.node, "web1");
    EXPECT_EQ(a.files, 2u);
    EXPECT_EQ(a.bytes, 80000u);
  }
  EXPECT_FALSE(std::filesystem::exists(o.scratch)) << "scratch space left behind";
  o.all = true;
  EXPECT_EQ(run_drill(*n.r.repo, o).accounts.size(), 6u);
}

TEST(Drill, DamageIsFoundAndNamedAndTheOthersPass) {
  DrillNode n;
  n.damage("user4");
  DrillOptions o;
  o.all = true;
  o.scratch = n.dir.sub("scratch");
  DrillResult r = run_drill(*n.r.repo, o);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.ok, 5u);
  for (const auto& a : r.accounts) {
    EXPECT_EQ(a.ok, a.account != "user4") << a.account;
    if (a.account == "user4") {
      ASSERT_FALSE(a.problems.empty());
      EXPECT_NE(a.problems[0].find("own.bin"), std::string::npos) << a.problems[0];
    }
  }
  o.all = false;
  o.accounts = {"user1", "user4"};
  DrillResult named = run_drill(*n.r.repo, o);
  ASSERT_EQ(named.accounts.size(), 2u);
  EXPECT_EQ(named.failed, 1u);
  o.accounts = {"nobody"};
  EXPECT_THROW(run_drill(*n.r.repo, o), Error);
}

}  // namespace
}  // namespace lifeboat::node
