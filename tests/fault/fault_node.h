// Shared by the fault-injection tests: a small node backed up into an
// in-memory repository with small packs, so one pack's damage has a known,
// narrow reach.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "backend/mem_backend.h"
#include "crypto/kdf.h"
#include "node/node_backup.h"
#include "node/node_restore.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat::test {

using backend::Handle;
using backend::ObjectType;

// An in-memory repository with small packs: a 300 KB file's one blob then
// sits alone in its pack, so a pack's damage has a known, narrow reach.
struct SmallPackRepo {
  std::shared_ptr<backend::MemBackend> be = std::make_shared<backend::MemBackend>();
  std::unique_ptr<repo::Repository> repo;
  SmallPackRepo() {
    repo::Config cfg = repo::Config::make_new();
    cfg.pack_size = 128 << 10;
    repo::Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {}, cfg);
    repo = repo::Repository::open(be, "pw");
  }
};

// Eight accounts sharing a core, each with content of its own; the
// repository is in memory, reopened (index reloaded) for every restore.
struct FaultNode {
  test::TempDir dir;
  SmallPackRepo r;
  std::vector<std::string> names;
  FaultNode() {
    ::mkdir(dir.sub("home").c_str(), 0755);
    for (int i = 0; i < 8; ++i) {
      names.push_back((i < 4 ? "a" : "m") + std::to_string(i));
      const std::string d = dir.sub("home/" + names.back());
      ::mkdir(d.c_str(), 0750);
      test::write_file(d + "/core.php", test::seeded_bytes(40000, 1));
      test::write_file(d + "/own.bin", test::seeded_bytes(300000, 10 + static_cast<uint64_t>(i)));
    }
    node::NodeBackupOptions o;
    o.root = dir.sub("home");
    o.node = "web1";
    o.accounts = names;
    o.parallel_accounts = 1;  // one account after another: packs follow accounts
    EXPECT_TRUE(node::run_node_backup(*r.repo, o).all_ok());
  }
  std::unique_ptr<repo::Repository> reopen() {
    auto repo = repo::Repository::open(r.be, "pw");
    repo->load_index();
    return repo;
  }
  std::vector<std::string> names_of(ObjectType t) {
    std::vector<std::string> out;
    r.be->list(t, [&](std::string_view n, uint64_t) { out.emplace_back(n); });
    return out;
  }
  // Restores the node into a new directory; returns the result.
  node::NodeRestoreResult restore(const std::string& target) {
    auto repo = reopen();
    node::NodeRestoreOptions o;
    o.node = "web1";
    o.target = dir.sub(target);
    return node::run_node_restore(*repo, o);
  }
  void expect_exact(const node::NodeRestoreResult& res, const std::string& target,
                    const std::vector<std::string>& except = {}) {
    for (const auto& a : res.accounts) {
      if (std::find(except.begin(), except.end(), a.account) != except.end()) continue;
      EXPECT_EQ(a.state, node::AccountState::kReady) << a.account << ": " << a.error;
      auto diffs = test::compare_trees(dir.sub("home/" + a.account), dir.sub(target + "/" + a.account));
      EXPECT_TRUE(diffs.empty()) << a.account << ": " << (diffs.empty() ? "" : diffs[0]);
    }
  }
  // The pack holding `account`'s own.bin.
  Id pack_of_own(const std::string& account) {
    std::ifstream in(dir.sub("home/" + account + "/own.bin"), std::ios::binary);
    std::string own((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto repo = reopen();
    auto loc = repo->index().find(repo->hash(ByteView(reinterpret_cast<const uint8_t*>(own.data()), own.size())));
    EXPECT_TRUE(loc);
    return loc ? loc->pack : Id{};
  }
};

}  // namespace lifeboat::test
