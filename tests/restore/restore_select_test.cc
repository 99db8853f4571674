// Subpath and include/exclude selection.
#include <gtest/gtest.h>

#include "restore/restorer.h"
#include "restore/snapshot_builder.h"
#include "support/temp_dir.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

class Select : public ::testing::Test {
 protected:
  void SetUp() override {
    snap = t.snapshot({
        t.dir("public_html",
              {t.file("index.php", text_bytes("<?php")), t.file("style.css", text_bytes("css")),
               t.dir("wp-content",
                     {t.file("plugin.php", text_bytes("plug")),
                      t.dir("cache", {t.file("c1", text_bytes("c"))}),
                      t.file("debug.log", text_bytes("log"))},
                     0751, 1'100'000'000 * kSec + 5)}),
        t.dir("docs", {t.file("readme", text_bytes("r")),
                       t.dir("img", {t.file("a.png", text_bytes("png"))})}),
        t.dir("mail", {t.file("inbox", text_bytes("mail"))}),
        t.file("top.log", text_bytes("l")),
    });
  }
  RestoreResult run(RestoreOptions options) {
    options.on_error = errors.callback();
    return run_restore(*t.repo, snap, tmp.sub("out"), options);
  }
  std::string out(const std::string& rel) { return tmp.sub("out/" + rel); }

  TestRepo t;
  Id snap;
  TempDir tmp;
  Errors errors;
};

TEST_F(Select, SubpathDirectoryTakesTheRootsPlace) {
  RestoreOptions o;
  o.subpath = "public_html/wp-content";
  RestoreResult r = run(o);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(read_file(out("plugin.php")), text_bytes("plug"));
  EXPECT_EQ(read_file(out("cache/c1")), text_bytes("c"));
  EXPECT_FALSE(exists(out("index.php")));
  EXPECT_FALSE(exists(out("public_html")));
  struct stat st = lstat_of(tmp.sub("out"));
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_EQ(mtime_ns(st), 1'100'000'000 * kSec + 5);
}

TEST_F(Select, SubpathFileIsRestoredUnderItsName) {
  RestoreOptions o;
  o.subpath = "/docs/img/a.png";
  RestoreResult r = run(o);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(read_file(out("a.png")), text_bytes("png"));
  EXPECT_FALSE(exists(out("readme")));
}

TEST_F(Select, MissingSubpathThrows) {
  RestoreOptions o;
  o.subpath = "docs/nope";
  try {
    run(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(e.message().find("docs/nope"), std::string::npos) << e.message();
  }
  EXPECT_FALSE(exists(out(""))) << "the target was created for nothing";
  o.subpath = "top.log/x";
  EXPECT_THROW(run(o), Error);
}

TEST_F(Select, IncludesKeepMatchesAndTheirParentsOnly) {
  RestoreOptions o;
  o.includes = {"*.php"};
  RestoreResult r = run(o);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_EQ(r.files, 2u);
  EXPECT_TRUE(exists(out("public_html/index.php")));
  EXPECT_TRUE(exists(out("public_html/wp-content/plugin.php")));
  EXPECT_FALSE(exists(out("public_html/style.css")));
  EXPECT_FALSE(exists(out("public_html/wp-content/cache")));
  EXPECT_FALSE(exists(out("docs")));
  EXPECT_FALSE(exists(out("mail")));
  // Parents created for matches still get their metadata.
  EXPECT_EQ(mtime_ns(lstat_of(out("public_html/wp-content"))), 1'100'000'000 * kSec + 5);
}

TEST_F(Select, IncludedDirectoryBringsItsSubtree) {
  RestoreOptions o;
  o.includes = {"docs", "/mail/inbox"};
  run(o);
  EXPECT_TRUE(exists(out("docs/readme")));
  EXPECT_TRUE(exists(out("docs/img/a.png")));
  EXPECT_TRUE(exists(out("mail/inbox")));
  EXPECT_FALSE(exists(out("public_html")));
  EXPECT_FALSE(exists(out("top.log")));
}

TEST_F(Select, ExcludesSkipFilesAndWholeDirectories) {
  RestoreOptions o;
  o.excludes = {"*.log", "public_html/wp-content/cache"};
  RestoreResult r = run(o);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  EXPECT_FALSE(exists(out("top.log")));
  EXPECT_FALSE(exists(out("public_html/wp-content/debug.log")));
  EXPECT_FALSE(exists(out("public_html/wp-content/cache")));
  EXPECT_TRUE(exists(out("public_html/wp-content/plugin.php")));
  EXPECT_TRUE(exists(out("docs/img/a.png")));
}

TEST_F(Select, ExcludeWinsOverInclude) {
  RestoreOptions o;
  o.subpath = "public_html";
  o.includes = {"*.php", "*.log"};
  o.excludes = {"wp-content"};
  run(o);
  EXPECT_TRUE(exists(out("index.php")));
  EXPECT_FALSE(exists(out("wp-content")));
}

}  // namespace
}  // namespace lifeboat::restore::test
