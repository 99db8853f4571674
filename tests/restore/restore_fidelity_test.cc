// A real directory tree captured by hand (a tiny stand-in for the archiver,
// so this test does not depend on it), restored, and compared bit for bit.
#include <dirent.h>
#include <gtest/gtest.h>

#include "fs/metadata.h"
#include "restore/restorer.h"
#include "restore/snapshot_builder.h"
#include "support/fidelity_tree.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

namespace lifeboat::restore::test {
namespace {

using lifeboat::test::TempDir;

// Captures `path` into the repository; returns its node named `name`.
Node capture(TestRepo& t, const std::string& path, const std::string& name) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) throw_errno("lstat " + path);
  Node n = fs::capture_node(path, st);
  n.name = name;
  if (n.type == NodeType::kDir) {
    std::vector<std::string> names;
    DIR* d = opendir(path.c_str());
    if (!d) throw_errno("opendir " + path);
    while (dirent* e = readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") names.push_back(child);
    }
    closedir(d);
    std::vector<Node> children;
    for (const auto& c : names) children.push_back(capture(t, path + "/" + c, c));
    n.subtree = t.tree(std::move(children));
  } else if (n.type == NodeType::kFile) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path);
    uint64_t pos = 0;
    for (const fs::Extent& e : fs::data_extents(fd, n.size)) {
      if (e.offset > pos) n.content.push_back(ContentPart{Id{}, e.offset - pos});
      for (uint64_t off = e.offset; off < e.offset + e.length;) {
        uint64_t len = std::min<uint64_t>(256 << 10, e.offset + e.length - off);
        Bytes buf(len);
        if (pread(fd, buf.data(), len, static_cast<off_t>(off)) != static_cast<ssize_t>(len))
          throw_errno("read " + path);
        n.content.push_back(ContentPart{t.blob(buf), len});
        off += len;
      }
      pos = e.offset + e.length;
    }
    if (n.size > pos) n.content.push_back(ContentPart{Id{}, n.size - pos});
    close(fd);
  }
  return n;
}

TEST(RestoreFidelity, GeneratedTreeComesBackIdentical) {
  TempDir tmp;
  std::string src = tmp.sub("src");
  lifeboat::test::FidelityOptions fo;
  fo.big_sparse_bytes = 1ull << 30;
  lifeboat::test::make_fidelity_tree(src, 7, fo);

  TestRepo t;
  Node root = capture(t, src, ".");
  Id top = t.tree({root});
  t.repo->flush();

  Errors errors;
  RestoreOptions options;
  options.on_error = errors.callback();
  RestoreResult r = run_restore(*t.repo, top, tmp.sub("out"), options);
  EXPECT_EQ(r.errors, 0u) << errors.dump();
  auto diffs = lifeboat::test::compare_trees(src, tmp.sub("out"));
  std::string all;
  for (const auto& d : diffs) all += d + "\n";
  EXPECT_TRUE(diffs.empty()) << all;
  EXPECT_GT(r.files, 20u);
  EXPECT_GT(r.other, 5u);
  // The comparison does see differences (guards against a vacuous pass).
  ASSERT_EQ(
      chmod(tmp.sub("out/" + std::string(lifeboat::test::fidelity_paths::kMode0600)).c_str(), 0644),
      0);
  EXPECT_FALSE(lifeboat::test::compare_trees(src, tmp.sub("out")).empty());

  // The same again into the now populated target: still identical.
  RestoreResult again = run_restore(*t.repo, top, tmp.sub("out"), options);
  EXPECT_EQ(again.errors, 0u) << errors.dump();
  diffs = lifeboat::test::compare_trees(src, tmp.sub("out"));
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences after a second restore";
}

}  // namespace
}  // namespace lifeboat::restore::test
