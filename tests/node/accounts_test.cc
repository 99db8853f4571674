#include "node/accounts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/error.h"
#include "support/temp_dir.h"

namespace lifeboat::node {
namespace {

using Names = std::vector<std::string>;

void make_dir(const std::string& p) { ASSERT_EQ(::mkdir(p.c_str(), 0755), 0) << p; }

TEST(NodeAccounts, DiscoversDirectoriesSkippingDotDirsSymlinksFilesAndLostFound) {
  test::TempDir dir;
  for (const char* n : {"bob", "alice", ".trash", "lost+found", "carol"}) make_dir(dir.sub(n));
  std::ofstream(dir.sub("file.txt")) << "x";
  ASSERT_EQ(::symlink(dir.sub("alice").c_str(), dir.sub("link").c_str()), 0);
  EXPECT_EQ(discover_accounts(dir.path(), {}), (Names{"alice", "bob", "carol"}));
}

TEST(NodeAccounts, IncludeAndExcludeGlobs) {
  test::TempDir dir;
  for (const char* n : {"web1", "web2", "mail1", "test-web"}) make_dir(dir.sub(n));
  EXPECT_EQ(discover_accounts(dir.path(), {{"web*"}, {}}), (Names{"web1", "web2"}));
  EXPECT_EQ(discover_accounts(dir.path(), {{}, {"*web*"}}), (Names{"mail1"}));
  EXPECT_EQ(discover_accounts(dir.path(), {{"web*", "mail*"}, {"web2"}}), (Names{"mail1", "web1"}));
}

TEST(NodeAccounts, MissingRootThrows) {
  test::TempDir dir;
  EXPECT_THROW(discover_accounts(dir.sub("nope"), {}), Error);
}

TEST(NodeAccounts, AccountsFile) {
  test::TempDir dir;
  std::ofstream(dir.sub("accounts")) << "# the accounts\n  zed  \n\nalice\r\n# bob\nalice\nweb9\n";
  EXPECT_EQ(read_accounts_file(dir.sub("accounts"), {}), (Names{"zed", "alice", "web9"}));
  EXPECT_EQ(read_accounts_file(dir.sub("accounts"), {{}, {"web*"}}), (Names{"zed", "alice"}));
  std::ofstream(dir.sub("bad")) << "alice\n../etc\n";
  try {
    read_accounts_file(dir.sub("bad"), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(e.message().find("line 2"), std::string::npos) << e.message();
  }
  EXPECT_THROW(read_accounts_file(dir.sub("missing"), {}), Error);
}

}  // namespace
}  // namespace lifeboat::node
