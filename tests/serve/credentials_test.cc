// The credentials file of `lifeboat serve`: hashed passwords only, one
// repository path per credential, and every malformed line refused with
// the file and line named.
#include "serve/credentials.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "base/error.h"

namespace lifeboat::serve {
namespace {

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/lifeboat-creds-XXXXXX";
  int fd = ::mkstemp(path);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(Credentials, HashedLinesAuthenticateAndKnowTheirPathAndRole) {
  const std::string a = Credentials::make_line("web1", "nodes/web1", Role::kAppend, "pw one");
  const std::string b = Credentials::make_line("prune", "nodes/web1", Role::kAdmin, "pw two");
  EXPECT_EQ(a.find("pw one"), std::string::npos);
  const std::string file = write_temp("# comment\n\n" + a + "\n" + b + "\n");
  Credentials c = Credentials::load(file);
  EXPECT_EQ(c.size(), 2u);
  auto who = c.authenticate("web1", "pw one");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->path, "nodes/web1");
  EXPECT_EQ(who->role, Role::kAppend);
  EXPECT_TRUE(c.authenticate("web1", "pw one"));  // remembered: no second Argon2id
  EXPECT_FALSE(c.authenticate("web1", "pw two"));
  EXPECT_FALSE(c.authenticate("web1", ""));
  EXPECT_FALSE(c.authenticate("nobody", "pw one"));
  EXPECT_EQ(c.authenticate("prune", "pw two")->role, Role::kAdmin);
  std::remove(file.c_str());
}

TEST(Credentials, BadLinesAndPathsAreRefusedNamingTheLine) {
  const std::string good = Credentials::make_line("web1", "nodes/web1", Role::kAppend, "x");
  for (const std::string& bad :
       {std::string("web1:nodes/web1:append"), std::string("web1:../etc:append:$argon2id$x"),
        std::string("web1:/abs:append:$argon2id$x"), std::string("web1:a/./b:append:$argon2id$x"),
        std::string("web1:nodes/web1:owner:$argon2id$x"), std::string("web1:nodes/web1:append:plaintext"),
        good + "\n" + good}) {
    const std::string file = write_temp(bad + "\n");
    try {
      Credentials::load(file);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(e.message().find(file), std::string::npos) << e.message();
      EXPECT_NE(e.message().find("line "), std::string::npos) << e.message();
    }
    std::remove(file.c_str());
  }
  EXPECT_THROW(Credentials::make_line("a:b", "p", Role::kAppend, "x"), Error);
  EXPECT_THROW(Credentials::make_line("a", "../p", Role::kAppend, "x"), Error);
}

}  // namespace
}  // namespace lifeboat::serve
