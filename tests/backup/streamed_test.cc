// Streamed entries: files that are not on disk (database dumps) stored in
// a synthesized directory of the snapshot, read as they arrive, with
// bounded memory, and with their failures isolated to themselves.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "backup/archiver.h"
#include "base/error.h"
#include "support/mem_repo.h"
#include "support/snapshot_lookup.h"
#include "support/temp_dir.h"

namespace lifeboat::backup {
namespace {

using test::lookup;
using test::read_content;

// A stream of given bytes, handed out in reads of varying sizes; finish()
// fails with `failure` if set.
class StringStream final : public ByteStream {
 public:
  explicit StringStream(std::string data, std::string failure = "")
      : data_(std::move(data)), failure_(std::move(failure)) {}
  size_t read(uint8_t* dst, size_t n) override {
    size_t k = std::min({n, data_.size() - pos_, size_t{1} + (pos_ * 7919) % 300000});
    std::memcpy(dst, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  void finish() override {
    if (!failure_.empty()) throw Error(ErrorCode::kIo, failure_);
  }

 private:
  std::string data_;
  std::string failure_;
  size_t pos_ = 0;
};

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

StreamedFile file_of(const std::string& name, std::string data, std::string failure = "") {
  return {name, [data, failure] { return std::make_unique<StringStream>(data, failure); }};
}

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

struct Source {
  test::TempDir dir;
  std::string root = dir.sub("acct");
  Source() {
    ::mkdir(root.c_str(), 0755);
    std::ofstream(root + "/index.php") << "<?php echo 1;";
  }
};

TEST(Streamed, FilesLandInTheSynthesizedDirectoryWithExactBytes) {
  Source src;
  test::MemRepo f;
  const std::string small = "CREATE TABLE t (a INT);\n";
  const std::string big = random_bytes(30u << 20, 7);  // several chunks
  BackupOptions o;
  o.clock = [] { return UnixNanos{1700000000000000000}; };
  o.streamed = StreamedDir{".lifeboat/databases", {file_of("shop.sql", big), file_of("blog.sql", small)}, {}};
  BackupResult r = run_backup(*f.repo, src.root, o);
  EXPECT_FALSE(r.partial);

  struct stat st;
  ASSERT_EQ(::stat(src.root.c_str(), &st), 0);
  auto top = lookup(*f.repo, r.snapshot, ".lifeboat");
  auto dbs = lookup(*f.repo, r.snapshot, ".lifeboat/databases");
  auto shop = lookup(*f.repo, r.snapshot, ".lifeboat/databases/shop.sql");
  auto blog = lookup(*f.repo, r.snapshot, ".lifeboat/databases/blog.sql");
  ASSERT_TRUE(top && dbs && shop && blog);
  for (const auto& d : {*top, *dbs}) {
    EXPECT_EQ(d.type, repo::NodeType::kDir);
    EXPECT_EQ(d.mode, 0700u);
    EXPECT_EQ(d.uid, st.st_uid);
    EXPECT_EQ(d.gid, st.st_gid);
    EXPECT_EQ(d.mtime_ns, 1700000000000000000);
  }
  for (const auto& file : {*shop, *blog}) {
    EXPECT_EQ(file.type, repo::NodeType::kFile);
    EXPECT_EQ(file.mode, 0600u);
    EXPECT_EQ(file.uid, st.st_uid);
    EXPECT_EQ(file.mtime_ns, 1700000000000000000);
    EXPECT_FALSE(file.damaged);
  }
  EXPECT_GT(shop->content.size(), 3u);
  EXPECT_EQ(shop->size, big.size());
  EXPECT_TRUE(read_content(*f.repo, *shop) == big);
  EXPECT_EQ(read_content(*f.repo, *blog), small);
  EXPECT_TRUE(lookup(*f.repo, r.snapshot, "index.php"));  // the files are there too

  ASSERT_EQ(r.streamed.size(), 2u);
  EXPECT_EQ(r.streamed[0].name, "shop.sql");
  EXPECT_EQ(r.streamed[0].bytes, big.size());
  EXPECT_EQ(r.streamed[1].bytes, small.size());
  EXPECT_TRUE(r.streamed[0].error.empty());
  EXPECT_EQ(r.snapshot.summary.bytes_total, big.size() + small.size() + 13);
  EXPECT_EQ(r.snapshot.summary.files_new, 3u);
  EXPECT_EQ(r.snapshot.summary.dirs, 2u);
}

TEST(Streamed, AFailedStreamIsThatFilesErrorAndKeepsWhatWasRead) {
  Source src;
  test::MemRepo f;
  BackupOptions o;
  std::vector<std::string> errors;
  o.on_error = [&](const std::string& p, const std::string& m) { errors.push_back(p + ": " + m); };
  o.streamed = StreamedDir{"dumps",
                           {file_of("bad.sql", "-- half a dump", "dump of database bad failed (exit status 2): gone"),
                            file_of("good.sql", "-- all of it"),
                            {"unstartable.sql", []() -> std::unique_ptr<ByteStream> {
                               throw Error(ErrorCode::kIo, "cannot start dump");
                             }}},
                           {}};
  BackupResult r = run_backup(*f.repo, src.root, o);
  EXPECT_TRUE(r.partial);
  EXPECT_EQ(r.snapshot.summary.errors, 2u);
  EXPECT_EQ(r.snapshot.error_paths,
            (std::vector<std::string>{src.root + "/dumps/bad.sql", src.root + "/dumps/unstartable.sql"}));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("exit status 2"), std::string::npos);

  auto bad = lookup(*f.repo, r.snapshot, "dumps/bad.sql");
  ASSERT_TRUE(bad);
  EXPECT_TRUE(bad->damaged);
  EXPECT_EQ(read_content(*f.repo, *bad), "-- half a dump");
  auto good = lookup(*f.repo, r.snapshot, "dumps/good.sql");
  ASSERT_TRUE(good);
  EXPECT_FALSE(good->damaged);
  EXPECT_EQ(read_content(*f.repo, *good), "-- all of it");
  auto unstartable = lookup(*f.repo, r.snapshot, "dumps/unstartable.sql");
  ASSERT_TRUE(unstartable);
  EXPECT_TRUE(unstartable->damaged);
  EXPECT_EQ(unstartable->size, 0u);
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, "dumps")->damaged);

  ASSERT_EQ(r.streamed.size(), 3u);
  EXPECT_EQ(r.streamed[0].bytes, 14u);
  EXPECT_NE(r.streamed[0].error.find("exit status 2"), std::string::npos);
  EXPECT_TRUE(r.streamed[1].error.empty());
  EXPECT_EQ(r.streamed[2].error, "cannot start dump");
}

TEST(Streamed, TroubleBeforeTheStreamsMarksTheDirectoryDamaged) {
  Source src;
  test::MemRepo f;
  BackupOptions o;
  o.streamed = StreamedDir{".lifeboat/databases", {}, {"database list command failed (exit status 1)"}};
  BackupResult r = run_backup(*f.repo, src.root, o);
  EXPECT_TRUE(r.partial);
  EXPECT_EQ(r.snapshot.error_paths, (std::vector<std::string>{src.root + "/.lifeboat/databases"}));
  EXPECT_TRUE(lookup(*f.repo, r.snapshot, ".lifeboat/databases")->damaged);
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, ".lifeboat")->damaged);
  EXPECT_TRUE(r.streamed.empty());
}

TEST(Streamed, TheSynthesizedDirectoryReplacesOneOnDiskWithAWarning) {
  Source src;
  ::mkdir((src.root + "/.lifeboat").c_str(), 0755);
  ::mkdir((src.root + "/.lifeboat/databases").c_str(), 0755);
  std::ofstream(src.root + "/.lifeboat/databases/old.sql") << "restored last week";
  std::ofstream(src.root + "/.lifeboat-not-it") << "kept";
  std::ofstream(src.root + "/.a") << "kept";
  test::MemRepo f;
  BackupOptions o;
  std::vector<std::string> warnings, errors;
  o.on_warning = [&](const std::string& p, const std::string&) { warnings.push_back(p); };
  o.on_error = [&](const std::string& p, const std::string&) { errors.push_back(p); };
  o.streamed = StreamedDir{".lifeboat/databases", {file_of("new.sql", "fresh")}, {}};
  BackupResult r = run_backup(*f.repo, src.root, o);
  EXPECT_FALSE(r.partial);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(warnings, (std::vector<std::string>{src.root + "/.lifeboat"}));
  EXPECT_FALSE(lookup(*f.repo, r.snapshot, ".lifeboat/databases/old.sql"));
  EXPECT_EQ(read_content(*f.repo, *lookup(*f.repo, r.snapshot, ".lifeboat/databases/new.sql")), "fresh");
  EXPECT_TRUE(lookup(*f.repo, r.snapshot, ".lifeboat-not-it"));
  EXPECT_TRUE(lookup(*f.repo, r.snapshot, ".a"));
  EXPECT_EQ(lookup(*f.repo, r.snapshot, ".lifeboat")->mode, 0700u);
}

TEST(Streamed, AlwaysReadAgainAndDeduplicatedByChunk) {
  Source src;
  test::MemRepo f;
  const std::string dump = random_bytes(12u << 20, 11);
  BackupOptions o;
  o.streamed = StreamedDir{".lifeboat/databases", {file_of("shop.sql", dump)}, {}};
  BackupResult first = run_backup(*f.repo, src.root, o);
  o.parent = first.snapshot;
  o.parent_id = first.snapshot_id;
  BackupResult second = run_backup(*f.repo, src.root, o);
  // The file on disk is unchanged and not read; the dump is read in full
  // but adds nothing but trees.
  EXPECT_EQ(second.snapshot.summary.bytes_read, dump.size());
  EXPECT_EQ(second.snapshot.summary.files_unmodified, 1u);
  EXPECT_LT(second.snapshot.summary.bytes_added, 4096u);
  EXPECT_EQ(lookup(*f.repo, first.snapshot, ".lifeboat/databases/shop.sql")->content,
            lookup(*f.repo, second.snapshot, ".lifeboat/databases/shop.sql")->content);
}

TEST(Streamed, EmptyDirectoryWhenThereIsNothingToStream) {
  Source src;
  test::MemRepo f;
  BackupOptions o;
  o.streamed = StreamedDir{".lifeboat/databases", {}, {}};
  BackupResult r = run_backup(*f.repo, src.root, o);
  EXPECT_FALSE(r.partial);
  EXPECT_TRUE(f.repo->load_tree(lookup(*f.repo, r.snapshot, ".lifeboat/databases")->subtree).nodes.empty());
}

TEST(Streamed, BadNamesAreRefusedUpFront) {
  Source src;
  test::MemRepo f;
  for (auto dir : std::vector<StreamedDir>{{"/abs", {}, {}},
                                           {"a//b", {}, {}},
                                           {"a/..", {}, {}},
                                           {"d", {file_of("x/y", "")}, {}},
                                           {"d", {file_of("..", "")}, {}},
                                           {"d", {file_of("x", ""), file_of("x", "")}, {}}}) {
    BackupOptions o;
    o.streamed = dir;
    try {
      run_backup(*f.repo, src.root, o);
      ADD_FAILURE() << "accepted " << dir.path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

// A stream of `total` bytes repeating a 3 MiB pattern (so the repository,
// in memory, stays small: the chunks repeat), which samples the process's
// RSS as it is read and reports the peak to `peak` when finished.
class PatternStream final : public ByteStream {
 public:
  PatternStream(const std::string& pattern, uint64_t total, uint64_t& peak)
      : pattern_(pattern), left_(total), peak_(peak) {}
  size_t read(uint8_t* dst, size_t n) override {
    size_t k = static_cast<size_t>(std::min<uint64_t>({n, left_, pattern_.size() - at_}));
    std::memcpy(dst, pattern_.data() + at_, k);
    at_ = (at_ + k) % pattern_.size();
    left_ -= k;
    if ((reads_++ & 15) == 0) peak_ = std::max(peak_, rss_bytes());
    return k;
  }
  void finish() override {}

 private:
  const std::string& pattern_;
  uint64_t left_;
  uint64_t& peak_;
  size_t at_ = 0;
  uint64_t reads_ = 0;
};

TEST(Streamed, MemoryStaysBoundedWhateverTheStreamLength) {
  Source src;
  test::MemRepo f;
  const std::string pattern = random_bytes((3u << 20) + 4099, 5);
  constexpr uint64_t kTotal = 200ull << 20;
  uint64_t peak = 0;
  BackupOptions o;
  o.streamed = StreamedDir{"d", {{"big.sql", [&]() -> std::unique_ptr<ByteStream> {
                                    return std::make_unique<PatternStream>(pattern, kTotal, peak);
                                  }}},
                           {}};
  const uint64_t before = rss_bytes();
  BackupResult r = run_backup(*f.repo, src.root, o);
  ASSERT_EQ(r.streamed.at(0).bytes, kTotal);
  ASSERT_GT(peak, 0u);
  const uint64_t growth = peak > before ? peak - before : 0;
  // One stream buffer (<= 2 x 8 MiB max chunk), the CPU pool's backlog,
  // the pack writers: tens of MiB. A buffered dump would be 200 MiB.
  EXPECT_LT(growth, 100ull << 20) << "RSS grew by " << (growth >> 20) << " MiB";
  std::printf("RSS growth while streaming 200 MiB: %llu MiB\n",
              static_cast<unsigned long long>(growth >> 20));
  auto big = lookup(*f.repo, r.snapshot, "d/big.sql");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->size, kTotal);
}

}  // namespace
}  // namespace lifeboat::backup
