// End-to-end tests of the lifeboat binary: every command as a user runs it,
// and every bad input with its one-line message and documented exit code
// (docs/CLI.md). The binary runs as a child process with stdout, stderr and
// the exit status captured; each test works in its own temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fidelity_tree.h"
#include "support/temp_dir.h"
#include "support/tree_compare.h"

extern char** environ;

namespace lifeboat::cli_e2e {
namespace {

using nlohmann::json;
namespace stdfs = std::filesystem;

constexpr const char* kPassword = "correct horse battery staple";

// Exit codes, as documented in docs/CLI.md (deliberately not taken from
// src/cli/exit_codes.h: the test pins the contract).
constexpr int kOk = 0, kFatal = 1, kUsage = 2, kNoRepository = 10, kDamaged = 11,
              kWrongPassword = 12, kNoSpace = 13, kNotFound = 15, kInterrupted = 130;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.code << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

// Environment overrides: a value sets the variable, nullopt removes it.
using EnvOverrides = std::map<std::string, std::optional<std::string>>;

struct RunOptions {
  EnvOverrides env;
  // Called with the child's pid right after it started (e.g. to signal it).
  std::function<void(pid_t)> on_start;
};

// Runs the binary with `args`, stdin from /dev/null; the child starts its own
// process group so a test can signal it the way a terminal would.
Result run_binary(const std::vector<std::string>& args, const RunOptions& opts) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string key = kv.substr(0, eq);
    if (key.rfind("LIFEBOAT_", 0) == 0) continue;  // the developer's settings stay out
    env[key] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : opts.env) {
    if (v)
      env[k] = *v;
    else
      env.erase(k);
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings{LIFEBOAT_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  Result r;
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
    return r;
  }
  if (opts.on_start) opts.on_start(pid);

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void write_file(const std::string& path, std::string_view content) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(f.good()) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
  }
  return s;
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) out.push_back(it->path().string());
  return out;
}

bool contains_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

// A small tmpfs mounted at `dir` for the lifetime of the guard (needs root
// and a kernel that lets us mount; tests skip otherwise).
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& size) : dir_(dir) {
    stdfs::create_directories(dir);
    std::string opts = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0)
      mounted_ = true;
    else
      error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

class CliTest : public ::testing::Test {
 protected:
  CliTest() : repo_(dir_.sub("repo")) {}

  // Runs lifeboat with the test's repository and password in the environment.
  Result lb(const std::vector<std::string>& args, EnvOverrides env = {},
            std::function<void(pid_t)> on_start = nullptr) {
    RunOptions opts;
    opts.env = {{"LIFEBOAT_TEST_FAST_KDF", "1"},
                {"LIFEBOAT_PASSWORD", kPassword},
                {"LIFEBOAT_REPOSITORY", repo_}};
    for (auto& [k, v] : env) opts.env[k] = v;
    opts.on_start = std::move(on_start);
    return run_binary(args, opts);
  }

  // Where the first data blob of the repository sits (pack file, offset,
  // stored length), read from the pack trailers with `lifeboat cat pack`.
  struct DataBlobSpot {
    std::string pack_path;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  DataBlobSpot find_data_blob() {
    for (const auto& path : files_under(repo_ + "/data")) {
      std::string name = stdfs::path(path).filename().string();
      json trailer = json::parse(lb({"cat", "pack", name}).out);
      for (const auto& b : trailer["blobs"])
        if (b["type"] == "data") return {path, b["offset"].get<uint32_t>(), b["stored_length"].get<uint32_t>()};
    }
    return {};
  }

  // Runs and expects success; returns the result.
  Result ok(const std::vector<std::string>& args, EnvOverrides env = {}) {
    Result r = lb(args, std::move(env));
    EXPECT_EQ(r.code, kOk) << r;
    return r;
  }

  json ok_json(std::vector<std::string> args, EnvOverrides env = {}) {
    args.push_back("--json");
    Result r = ok(args, std::move(env));
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "stdout is not JSON (" << e.what() << ")\n" << r;
      return json();
    }
  }

  void init() { ok({"init", "--repo", repo_}); }

  // A backup of `src`; returns the snapshot id.
  std::string backup(const std::string& src, const std::string& account = "acct",
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"backup", src, "--account", account};
    args.insert(args.end(), extra.begin(), extra.end());
    json j = ok_json(args);
    return j.value("snapshot_id", "");
  }

  // A small tree of plain files.
  std::string make_small_tree(const std::string& name = "src") {
    std::string src = dir_.sub(name);
    write_file(src + "/a.txt", "alpha\n");
    write_file(src + "/b.txt", "bravo\n");
    write_file(src + "/gone.txt", "to be removed\n");
    write_file(src + "/sub/c.txt", "charlie\n");
    write_file(src + "/sub/deeper/d.bin", random_bytes(100000, 7));
    return src;
  }

  // The error contract: the documented code and exactly one stderr line,
  // "lifeboat: ...", containing each of `needles`.
  static void expect_one_line_error(const Result& r, int code,
                                    const std::vector<std::string>& needles) {
    EXPECT_EQ(r.code, code) << r;
    auto lines = r.err_lines();
    ASSERT_EQ(lines.size(), 1u) << "want exactly one stderr line\n" << r;
    EXPECT_EQ(lines[0].rfind("lifeboat: ", 0), 0u) << r;
    EXPECT_EQ(lines[0].find("lifeboat: warning:"), std::string::npos) << r;
    EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << r;
    for (const auto& n : needles) EXPECT_NE(lines[0].find(n), std::string::npos) << n << "\n" << r;
  }

  test::TempDir dir_{"lifeboat-cli"};
  std::string repo_;
};

// ---------------------------------------------------------------- commands

TEST_F(CliTest, VersionAndHelp) {
  Result v = ok({"version"});
  EXPECT_EQ(v.out.rfind("lifeboat ", 0), 0u) << v;
  Result h = ok({"--help"});
  EXPECT_NE(h.out.find("Exit codes:"), std::string::npos) << h;
  EXPECT_NE(h.out.find("130"), std::string::npos) << h;
}

TEST_F(CliTest, InitCreatesARepository) {
  Result r = ok({"init", "--repo", repo_});
  EXPECT_TRUE(stdfs::exists(repo_ + "/config"));
  EXPECT_EQ(files_under(repo_ + "/keys").size(), 1u);
  EXPECT_NE(r.out.find(repo_), std::string::npos) << r;
  json j = ok_json({"cat", "config"});
  EXPECT_EQ(j.value("version", 0), 1);
  EXPECT_EQ(j.value("id", "").size(), 64u);
}

TEST_F(CliTest, InitTwiceFailsAndChangesNothing) {
  init();
  std::string config_before = read_file(repo_ + "/config");
  Result r = lb({"init", "--repo", repo_});
  expect_one_line_error(r, kFatal, {repo_, "already exists"});
  EXPECT_EQ(read_file(repo_ + "/config"), config_before);
  EXPECT_EQ(files_under(repo_ + "/keys").size(), 1u);
}

TEST_F(CliTest, BackupThenSnapshotsJson) {
  init();
  std::string src = make_small_tree();
  // Repeatable flags take one value each: PATH after --tag is not a tag.
  json b = ok_json({"backup", "--tag", "daily", "--tag", "t2", src, "--account", "alice",
                    "--node", "web1"});
  ASSERT_EQ(b.value("snapshot_id", "").size(), 64u) << b.dump(2);
  EXPECT_FALSE(b.value("partial", true));
  EXPECT_EQ(b.value("files_new", 0), 5);
  EXPECT_EQ(b.value("errors", 1), 0);
  EXPECT_TRUE(b["parent"].is_null());

  json s = ok_json({"snapshots"});
  ASSERT_TRUE(s.is_array());
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["id"], b["snapshot_id"]);
  EXPECT_EQ(s[0]["short_id"], b["snapshot_id"].get<std::string>().substr(0, 8));
  EXPECT_EQ(s[0]["account"], "alice");
  EXPECT_EQ(s[0]["node"], "web1");
  EXPECT_EQ(s[0]["tags"], json({"daily", "t2"}));
  EXPECT_EQ(s[0]["paths"], json({stdfs::canonical(src).string()}));
  EXPECT_FALSE(s[0]["partial"].get<bool>());
  EXPECT_TRUE(s[0]["parent"].is_null());
  EXPECT_EQ(s[0]["summary"]["files_new"], 5);
  EXPECT_TRUE(s[0].contains("time"));

  // Same account, node and path: the parent is found and nothing is re-read.
  json b2 = ok_json({"backup", src, "--account", "alice", "--node", "web1"});
  EXPECT_EQ(b2["parent"], b["snapshot_id"]);
  EXPECT_EQ(b2.value("files_unmodified", 0), 5);
  EXPECT_EQ(b2.value("bytes_read", 1), 0);
  // --force reads everything again.
  json b3 = ok_json({"backup", src, "--account", "alice", "--node", "web1", "--force"});
  EXPECT_GT(b3.value("bytes_read", 0), 100000);
  // Another node: no parent.
  json b4 = ok_json({"backup", src, "--account", "alice", "--node", "web2"});
  EXPECT_TRUE(b4["parent"].is_null());

  EXPECT_EQ(ok_json({"snapshots", "--node", "web2"}).size(), 1u);
  EXPECT_EQ(ok_json({"snapshots", "--account", "alice"}).size(), 4u);
  EXPECT_EQ(ok_json({"snapshots", "--account", "bob"}).size(), 0u);

  Result table = ok({"snapshots"});
  EXPECT_NE(table.out.find(b["short_id"].get<std::string>()), std::string::npos) << table;
  EXPECT_NE(table.out.find("alice"), std::string::npos) << table;
}

TEST_F(CliTest, BackupExcludes) {
  init();
  std::string src = make_small_tree();
  backup(src, "acct", {"--exclude", "*.bin", "--exclude", "b.txt"});
  Result r = ok({"ls", "latest", "-r"});
  EXPECT_TRUE(contains_line(r.out, "/a.txt")) << r;
  EXPECT_FALSE(contains_line(r.out, "/b.txt")) << r;
  EXPECT_FALSE(contains_line(r.out, "/sub/deeper/d.bin")) << r;
}

TEST_F(CliTest, Ls) {
  init();
  std::string id = backup(make_small_tree());
  Result top = ok({"ls", id});
  EXPECT_TRUE(contains_line(top.out, "/a.txt")) << top;
  EXPECT_TRUE(contains_line(top.out, "/sub/")) << top;
  EXPECT_FALSE(contains_line(top.out, "/sub/c.txt")) << top;

  Result rec = ok({"ls", id.substr(0, 6), "--recursive"});
  EXPECT_TRUE(contains_line(rec.out, "/sub/c.txt")) << rec;
  EXPECT_TRUE(contains_line(rec.out, "/sub/deeper/d.bin")) << rec;

  Result sub = ok({"ls", "latest", "sub", "-l"});
  EXPECT_NE(sub.out.find("/sub/c.txt"), std::string::npos) << sub;
  EXPECT_NE(sub.out.find("-rw"), std::string::npos) << sub;

  json j = ok_json({"ls", "latest", "/sub/deeper", "--account", "acct"});
  ASSERT_EQ(j["entries"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["entries"][0]["path"], "/sub/deeper/d.bin");
  EXPECT_EQ(j["entries"][0]["type"], "file");
  EXPECT_EQ(j["entries"][0]["size"], 100000);

  // A file as the path lists that file.
  json f = ok_json({"ls", "latest", "a.txt"});
  ASSERT_EQ(f["entries"].size(), 1u);
  EXPECT_EQ(f["entries"][0]["size"], 6);

  expect_one_line_error(lb({"ls", "latest", "sub/nope"}), kNotFound,
                        {"/sub/nope", id.substr(0, 8)});
  expect_one_line_error(lb({"ls", "latest", "--account", "nobody"}), kNotFound, {"nobody"});
}

TEST_F(CliTest, RestoreReproducesTheTreeExactly) {
  init();
  std::string src = dir_.sub("fidelity");
  test::FidelityOptions fo;
  fo.big_sparse_bytes = 64ull << 20;
  test::make_fidelity_tree(src, 1234, fo);
  std::string id = backup(src, "fid");

  std::string out = dir_.sub("restored");
  Result r = ok({"restore", id, "--target", out, "--verify"});
  EXPECT_NE(r.out.find("files:"), std::string::npos) << r;
  EXPECT_NE(r.out.find("verified: everything restored matches the snapshot"), std::string::npos)
      << r;
  test::CompareOptions co;
  co.owners = geteuid() == 0;
  auto diffs = test::compare_trees(src, out, co);
  std::string all;
  for (const auto& d : diffs) all += d + "\n";
  EXPECT_TRUE(diffs.empty()) << all;

  // A subpath: that directory takes the root's place.
  std::string out2 = dir_.sub("restored-files");
  json j = ok_json(
      {"restore", "latest:files", "--target", out2, "--account", "fid", "--verify"});
  EXPECT_EQ(j.value("errors", 1), 0);
  EXPECT_EQ(j.value("mismatches", 1), 0);
  EXPECT_TRUE(j.value("verified", false));
  EXPECT_GT(j.value("files", 0), 0);
  diffs = test::compare_trees(src + "/files", out2, co);
  all.clear();
  for (const auto& d : diffs) all += d + "\n";
  EXPECT_TRUE(diffs.empty()) << all;

  // --include: only the matching entries (and their directories).
  std::string out3 = dir_.sub("restored-include");
  ok({"restore", "--include", test::fidelity_paths::kMibPlus17, id, "--target", out3});
  EXPECT_EQ(read_file(out3 + "/" + test::fidelity_paths::kMibPlus17),
            read_file(src + "/" + test::fidelity_paths::kMibPlus17));
  EXPECT_FALSE(stdfs::exists(out3 + "/" + test::fidelity_paths::kMode0600));

  // The restored data also passes a full check.
  ok({"check", "--read-data"});
}

TEST_F(CliTest, RestoreOfAMissingSubpathIsNotFound) {
  init();
  std::string id = backup(make_small_tree());
  std::string out = dir_.sub("out");
  expect_one_line_error(lb({"restore", id + ":no/such/dir", "--target", out}), kNotFound,
                        {"/no/such", id.substr(0, 8)});
}

TEST_F(CliTest, DiffAfterAChange) {
  init();
  std::string src = make_small_tree();
  std::string id1 = backup(src);
  write_file(src + "/a.txt", "alpha, changed\n");
  ASSERT_EQ(chmod((src + "/b.txt").c_str(), 0600), 0);
  stdfs::remove(src + "/gone.txt");
  write_file(src + "/sub/new.txt", "new\n");
  std::string id2 = backup(src);

  Result d = ok({"diff", id1, id2});
  EXPECT_TRUE(contains_line(d.out, "M /a.txt")) << d;
  EXPECT_TRUE(contains_line(d.out, "U /b.txt")) << d;
  EXPECT_TRUE(contains_line(d.out, "- /gone.txt")) << d;
  EXPECT_TRUE(contains_line(d.out, "+ /sub/new.txt")) << d;
  EXPECT_FALSE(contains_line(d.out, "M /sub/c.txt")) << d;
  EXPECT_FALSE(d.out.find("deeper/d.bin") != std::string::npos) << d;

  json j = ok_json({"diff", id1.substr(0, 8), id2.substr(0, 8)});
  EXPECT_EQ(j["summary"]["added"], 1);
  EXPECT_EQ(j["summary"]["removed"], 1);
  EXPECT_EQ(j["summary"]["modified"], 1);
  EXPECT_GE(j["summary"]["metadata"], 1);
  bool saw_modified = false;
  for (const auto& c : j["changes"])
    if (c["path"] == "/a.txt" && c["change"] == "modified") saw_modified = true;
  EXPECT_TRUE(saw_modified) << j.dump(2);

  json same = ok_json({"diff", id2, id2});
  EXPECT_TRUE(same["changes"].empty());
}

TEST_F(CliTest, StatsJson) {
  init();
  std::string src = make_small_tree();
  backup(src);
  backup(src, "other");  // same content: deduplicated
  json s = ok_json({"stats"});
  EXPECT_EQ(s["snapshots"], 2);
  EXPECT_GE(s["packs"].get<int>(), 1);
  uint64_t blobs = s["blobs"];
  EXPECT_EQ(blobs, s["blobs_by_type"]["data"]["count"].get<uint64_t>() +
                       s["blobs_by_type"]["tree"]["count"].get<uint64_t>());
  EXPECT_EQ(s["index_memory_bytes"].get<uint64_t>(), blobs * 48);
  EXPECT_GT(s["raw_bytes"].get<uint64_t>(), 100000u);
  EXPECT_NEAR(s["dedup_ratio"].get<double>(), 2.0, 0.01);
  EXPECT_GT(s["compression_ratio"].get<double>(), 0.5);

  uint64_t on_disk = 0;
  for (const auto& f : files_under(repo_)) {
    std::string rel = f.substr(repo_.size() + 1);
    if (rel.rfind("locks/", 0) == 0 || stdfs::path(f).filename().string()[0] == '.') continue;
    on_disk += stdfs::file_size(f);
  }
  EXPECT_EQ(s["repository_bytes"].get<uint64_t>(), on_disk);
  ok({"stats"});
}

TEST_F(CliTest, CatObjects) {
  init();
  std::string src = make_small_tree();
  std::string id = backup(src);

  json snap = ok_json({"cat", "snapshot", id.substr(0, 10)});
  EXPECT_EQ(snap["account"], "acct");
  std::string top = snap["tree"];

  json top_tree = ok_json({"cat", "tree", top});
  ASSERT_EQ(top_tree["nodes"].size(), 1u);
  EXPECT_EQ(top_tree["nodes"][0]["name"], ".");
  std::string root = top_tree["nodes"][0]["subtree"];
  json root_tree = ok_json({"cat", "tree", root});
  std::string blob;
  for (const auto& n : root_tree["nodes"])
    if (n["name"] == "a.txt") blob = n["content"][0]["blob"];
  ASSERT_EQ(blob.size(), 64u) << root_tree.dump(2);
  Result b = ok({"cat", "blob", blob});
  EXPECT_EQ(b.out, "alpha\n");

  auto packs = files_under(repo_ + "/data");
  ASSERT_FALSE(packs.empty());
  std::string pack = stdfs::path(packs[0]).filename();
  json p = ok_json({"cat", "pack", pack});
  EXPECT_EQ(p["id"], pack);
  EXPECT_FALSE(p["blobs"].empty());

  auto segments = files_under(repo_ + "/index");
  ASSERT_FALSE(segments.empty());
  json ix = ok_json({"cat", "index", stdfs::path(segments[0]).filename().string().substr(0, 8)});
  EXPECT_FALSE(ix["packs"].empty());

  expect_one_line_error(lb({"cat", "tree", "xyz"}), kUsage, {"xyz"});
  expect_one_line_error(lb({"cat", "blob", std::string(64, 'a')}), kNotFound,
                        {std::string(64, 'a')});
}

TEST_F(CliTest, Keys) {
  init();
  std::string src = make_small_tree();
  backup(src);
  std::string pw2 = dir_.sub("pw2");
  write_file(pw2, "second password\n");

  json keys = ok_json({"key", "list"});
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_TRUE(keys[0]["current"].get<bool>());
  std::string first = keys[0]["id"];

  ok({"key", "add", "--new-password-file", pw2, "--label", "offsite"});
  keys = ok_json({"key", "list"});
  ASSERT_EQ(keys.size(), 2u);
  std::string second;
  for (const auto& k : keys)
    if (k["id"] != first) second = k["id"];
  // The new password opens the repository.
  ok({"snapshots"}, {{"LIFEBOAT_PASSWORD", "second password"}});
  json with_second = ok_json({"key", "list"}, {{"LIFEBOAT_PASSWORD", "second password"}});
  for (const auto& k : with_second)
    EXPECT_EQ(k["current"].get<bool>(), k["id"] == second) << with_second.dump(2);

  // The key in use cannot be removed; another one can, by prefix.
  expect_one_line_error(lb({"key", "remove", first.substr(0, 8)}), kUsage, {first});
  ok({"key", "remove", second.substr(0, 8)});
  EXPECT_EQ(ok_json({"key", "list"}).size(), 1u);
  expect_one_line_error(lb({"snapshots"}, {{"LIFEBOAT_PASSWORD", "second password"}}),
                        kWrongPassword, {repo_});
  expect_one_line_error(lb({"key", "remove", "abcdef12"}), kNotFound, {"abcdef12"});

  // passwd: new key in, old key out.
  std::string pw3 = dir_.sub("pw3");
  write_file(pw3, "third password\n");
  ok({"key", "passwd", "--new-password-file", pw3});
  expect_one_line_error(lb({"snapshots"}), kWrongPassword, {repo_});
  json after = ok_json({"key", "list"}, {{"LIFEBOAT_PASSWORD", "third password"}});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0]["id"], first);
  ok({"restore", "latest", "--target", dir_.sub("out")},
     {{"LIFEBOAT_PASSWORD", "third password"}});
  EXPECT_EQ(read_file(dir_.sub("out/a.txt")), "alpha\n");

  expect_one_line_error(lb({"key", "add"}, {{"LIFEBOAT_PASSWORD", "third password"}}), kUsage,
                        {"--new-password-file"});
}

TEST_F(CliTest, PasswordSourcesInOrder) {
  init();
  std::string file = dir_.sub("pwfile");
  write_file(file, std::string(kPassword) + "\nsecond line ignored\n");
  // --password-file wins over a wrong LIFEBOAT_PASSWORD ...
  ok({"snapshots", "--password-file", file}, {{"LIFEBOAT_PASSWORD", "wrong"}});
  // ... LIFEBOAT_PASSWORD_FILE over the command and the variable ...
  ok({"snapshots"}, {{"LIFEBOAT_PASSWORD_FILE", file},
                     {"LIFEBOAT_PASSWORD_COMMAND", "echo wrong"},
                     {"LIFEBOAT_PASSWORD", "wrong"}});
  // ... and the command over the variable.
  ok({"snapshots"}, {{"LIFEBOAT_PASSWORD_COMMAND", std::string("echo '") + kPassword + "'"},
                     {"LIFEBOAT_PASSWORD", "wrong"}});
  expect_one_line_error(
      lb({"snapshots"}, {{"LIFEBOAT_PASSWORD_COMMAND", "exit 3"}, {"LIFEBOAT_PASSWORD", std::nullopt}}),
      kUsage, {"LIFEBOAT_PASSWORD_COMMAND"});
  expect_one_line_error(lb({"snapshots", "--password-file", dir_.sub("missing")}), kUsage,
                        {dir_.sub("missing")});
}

TEST_F(CliTest, CheckReportsDamageWithTheAffectedSnapshot) {
  init();
  std::string id = backup(make_small_tree());
  Result good = ok({"check", "--read-data"});
  EXPECT_NE(good.out.find("no problems"), std::string::npos) << good;
  ok({"check", "--read-data-subset", "1/2"});

  // Flip bytes inside a data blob. (A small backup may spread its blobs
  // over one pack per packer; `cat pack` says which blob is where.)
  DataBlobSpot spot = find_data_blob();
  ASSERT_FALSE(spot.pack_path.empty());
  std::vector<std::string> packs{spot.pack_path};
  std::string bytes = read_file(spot.pack_path);
  for (uint32_t i = 0; i < std::min<uint32_t>(64, spot.length); ++i) bytes[spot.offset + i] ^= 0x5a;
  chmod(spot.pack_path.c_str(), 0600);
  write_file(spot.pack_path, bytes);

  Result bad = lb({"check", "--read-data"});
  expect_one_line_error(bad, kDamaged, {repo_, "damaged"});
  EXPECT_NE(bad.out.find(stdfs::path(packs[0]).filename().string()), std::string::npos) << bad;
  EXPECT_NE(bad.out.find(id.substr(0, 8)), std::string::npos) << bad;

  json j = json::parse(lb({"check", "--read-data", "--json"}).out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_FALSE(j["problems"].empty());
}

TEST_F(CliTest, RestoreOfDamagedDataIsPartial) {
  init();
  std::string src = make_small_tree();
  std::string id = backup(src);
  // Damage one data blob, whichever file it belongs to.
  DataBlobSpot spot = find_data_blob();
  ASSERT_FALSE(spot.pack_path.empty());
  std::vector<std::string> packs{spot.pack_path};
  std::string bytes = read_file(spot.pack_path);
  for (uint32_t i = 0; i < std::min<uint32_t>(16, spot.length); ++i) bytes[spot.offset + i] ^= 0x5a;
  chmod(spot.pack_path.c_str(), 0600);
  write_file(spot.pack_path, bytes);

  std::string out = dir_.sub("out");
  Result r = lb({"restore", id, "--target", out});
  EXPECT_EQ(r.code, 3) << r;
  auto lines = r.err_lines();
  ASSERT_GE(lines.size(), 2u) << r;
  EXPECT_EQ(lines[0].rfind("lifeboat: warning: " + out + "/", 0), 0u) << r;
  EXPECT_EQ(lines.back().rfind("lifeboat: ", 0), 0u) << r;
  EXPECT_NE(lines.back().find(out), std::string::npos) << r;
  // The other files are restored.
  int intact = 0;
  for (const char* f : {"a.txt", "b.txt", "gone.txt", "sub/c.txt"})
    if (read_file(out + "/" + f) == read_file(src + "/" + f)) ++intact;
  EXPECT_GE(intact, 3) << r;
}

// ---------------------------------------------------------------- bad input

TEST_F(CliTest, WrongPassword) {
  init();
  expect_one_line_error(lb({"snapshots"}, {{"LIFEBOAT_PASSWORD", "not the password"}}),
                        kWrongPassword, {"wrong password", repo_});
}

TEST_F(CliTest, NoPasswordSourceIsAUsageError) {
  init();
  expect_one_line_error(lb({"snapshots"}, {{"LIFEBOAT_PASSWORD", std::nullopt}}), kUsage,
                        {"LIFEBOAT_PASSWORD_FILE", "--password-file"});
}

TEST_F(CliTest, RepositoryMissing) {
  std::string missing = dir_.sub("no/such/repo");
  expect_one_line_error(lb({"snapshots", "--repo", missing}), kNoRepository, {missing});
  EXPECT_FALSE(stdfs::exists(missing));
}

TEST_F(CliTest, DirectoryThatIsNotARepository) {
  std::string plain = dir_.sub("plain");
  write_file(plain + "/some-file", "x");
  expect_one_line_error(lb({"ls", "latest", "--repo", plain}), kNoRepository, {plain});
}

TEST_F(CliTest, NoRepositoryGiven) {
  expect_one_line_error(lb({"snapshots"}, {{"LIFEBOAT_REPOSITORY", std::nullopt}}), kUsage,
                        {"--repo", "LIFEBOAT_REPOSITORY"});
}

TEST_F(CliTest, DamagedConfigStillRestoresRefusesBackupsAndIsRepaired) {
  init();
  std::string src = make_small_tree();
  std::string id = backup(src);
  chmod((repo_ + "/config").c_str(), 0600);
  write_file(repo_ + "/config", "this is not a lifeboat config");
  // A restore needs only the keys: it works, with a warning saying what to do.
  std::string out = dir_.sub("out");
  Result r = lb({"restore", id, "--target", out});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(r.err.find("config"), std::string::npos) << r;
  EXPECT_NE(r.err.find("repair config"), std::string::npos) << r;
  for (const char* f : {"a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.bin"})
    EXPECT_EQ(read_file(out + "/" + f), read_file(src + "/" + f)) << f;
  // check names the damaged object.
  r = lb({"check", "--json"});
  EXPECT_EQ(r.code, kDamaged) << r;
  json report = json::parse(r.out);
  ASSERT_EQ(report["problems"].size(), 1u) << r;
  EXPECT_EQ(report["problems"][0]["kind"], "config") << r;
  // A backup would chunk with guessed parameters: refused, one line.
  expect_one_line_error(lb({"backup", src, "--account", "acct"}), kDamaged,
                        {"config", repo_, "repair config"});
  expect_one_line_error(lb({"node", "backup", dir_.path(), "--node", "n1"}), kDamaged,
                        {"config", repo_, "repair config"});
  // repair config writes a new one; then everything works again.
  r = lb({"repair", "config"});
  EXPECT_EQ(r.code, 0) << r;
  backup(src);
  r = lb({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r;
  r = lb({"repair", "config"});  // intact now: nothing to do
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("intact"), std::string::npos) << r;
}

TEST_F(CliTest, MissingConfigIsNoRepositoryUntilRepaired) {
  init();
  std::string src = make_small_tree();
  std::string id = backup(src);
  stdfs::remove(repo_ + "/config");
  expect_one_line_error(lb({"snapshots"}), kNoRepository, {"config", repo_});
  Result r = lb({"repair", "config"});
  EXPECT_EQ(r.code, 0) << r;
  r = lb({"restore", id, "--target", dir_.sub("out")});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_file(dir_.sub("out") + "/sub/deeper/d.bin"), read_file(src + "/sub/deeper/d.bin"));
}

TEST_F(CliTest, AllKeyFilesDamaged) {
  init();
  auto keys = files_under(repo_ + "/keys");
  ASSERT_EQ(keys.size(), 1u);
  for (const auto& k : keys) {
    chmod(k.c_str(), 0600);
    write_file(k, "garbage, not a key file");
  }
  expect_one_line_error(lb({"snapshots"}), kDamaged, {"key", repo_});
}

TEST_F(CliTest, UnknownSnapshot) {
  init();
  backup(make_small_tree());
  expect_one_line_error(lb({"ls", "deadbeef"}), kNotFound, {"deadbeef", repo_});
  expect_one_line_error(lb({"restore", "deadbeef", "--target", dir_.sub("out")}), kNotFound,
                        {"deadbeef"});
  EXPECT_FALSE(stdfs::exists(dir_.sub("out")));
}

TEST_F(CliTest, AmbiguousAndMalformedSnapshotIds) {
  init();
  std::string id = backup(make_small_tree());
  // A second snapshot object sharing the first 6 hex digits (a copy under
  // another name; prefix matching only looks at names).
  std::string twin = id.substr(0, 6) + std::string(58, id[6] == '0' ? '1' : '0');
  stdfs::copy_file(repo_ + "/snapshots/" + id, repo_ + "/snapshots/" + twin);
  expect_one_line_error(lb({"ls", id.substr(0, 6)}), kUsage, {id.substr(0, 6), "ambiguous"});
  ok({"ls", id.substr(0, 7)});
  expect_one_line_error(lb({"ls", "xyz!"}), kUsage, {"xyz!"});
  expect_one_line_error(lb({"ls", "abc"}), kUsage, {"abc"});
}

TEST_F(CliTest, MissingRequiredFlagOrArgument) {
  init();
  std::string src = make_small_tree();
  expect_one_line_error(lb({"backup", src}), kUsage, {"--account"});
  expect_one_line_error(lb({"restore", "latest"}), kUsage, {"--target"});
  expect_one_line_error(lb({"ls"}), kUsage, {"snapshot"});
  expect_one_line_error(lb({"frobnicate"}), kUsage, {"frobnicate"});
  expect_one_line_error(lb({"check", "--read-data-subset", "3/2"}), kUsage, {"3/2"});
  expect_one_line_error(lb({"backup", dir_.sub("nope"), "--account", "a"}), kNotFound,
                        {dir_.sub("nope")});
}

TEST_F(CliTest, RestoreTargetUnderARegularFile) {
  init();
  std::string id = backup(make_small_tree());
  std::string file = dir_.sub("a-file");
  write_file(file, "x");
  std::string target = file + "/restore-here";
  // Documented: a target that cannot be created because a component is not
  // a directory is a fatal error (1); refused access would be 14.
  expect_one_line_error(lb({"restore", id, "--target", target}), kFatal, {target, file});
}

TEST_F(CliTest, FullDiskDuringRestore) {
  std::string target = dir_.sub("small-target");
  TmpfsMount mount(target, "2m");
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.error();
  init();
  std::string src = dir_.sub("big");
  write_file(src + "/small.txt", "small\n");
  write_file(src + "/big.bin", random_bytes(8 << 20, 99));
  std::string id = backup(src);

  Result r = lb({"restore", id, "--target", target});
  expect_one_line_error(r, kNoSpace, {target});
  // The message names the file being written (inside the target).
  EXPECT_NE(r.err.find(target + "/"), std::string::npos) << r;
}

TEST_F(CliTest, FullDiskDuringBackup) {
  std::string small = dir_.sub("small-repo-fs");
  TmpfsMount mount(small, "2m");
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.error();
  std::string src = dir_.sub("big");
  write_file(src + "/small.txt", "small\n");
  write_file(src + "/big.bin", random_bytes(8 << 20, 98));

  std::string small_repo = small + "/repo";
  EnvOverrides on_small{{"LIFEBOAT_REPOSITORY", small_repo}};
  ok({"init"}, on_small);
  Result r = lb({"backup", src, "--account", "a"}, on_small);
  expect_one_line_error(r, kNoSpace, {small_repo});
  // Nothing half-written is referenced: the repository still checks clean
  // and has no snapshot.
  ok({"check", "--read-data"}, on_small);
  EXPECT_TRUE(ok_json({"snapshots"}, on_small).empty());

  // The same backup into a repository with room works.
  init();
  backup(src, "a");
  ok({"check", "--read-data"});
}

TEST_F(CliTest, InterruptExits130) {
  init();
  // The password command marks that lifeboat is running (its signal
  // handling is set up first thing in main), then stalls; ^C arrives then,
  // however slowly a loaded machine starts the process. The process that
  // stalls is the one that made the marker (perl, exec'd): with `touch;
  // sleep`, a ^C landing just after touch ended is ignored by sh (it waits
  // to see whether its child died of it), and the sleep started next kept
  // lifeboat's stderr open for 5 s.
  std::string marker = dir_.sub("password-command-started");
  auto started = std::chrono::steady_clock::now();
  Result r = lb({"snapshots"},
                {{"LIFEBOAT_PASSWORD", std::nullopt},
                 {"LIFEBOAT_PASSWORD_COMMAND",
                  "exec perl -e 'open(my $f, \">\", \"" + marker +
                      "\") or die; close($f); sleep 5; print \"" + std::string(kPassword) +
                      "\\n\"'"}},
                [marker, &started](pid_t pid) {
                  for (int i = 0; i < 1000 && !stdfs::exists(marker); ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                  started = std::chrono::steady_clock::now();
                  kill(-pid, SIGINT);  // the whole process group, like ^C on a terminal
                });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  expect_one_line_error(r, kInterrupted, {"interrupted"});
  EXPECT_LT(seconds, 4.0);
}

TEST_F(CliTest, JsonModeKeepsWarningsOffStdout) {
  init();
  std::string src = make_small_tree();
  backup(src);
  // A damaged snapshot object is skipped with a warning on stderr; stdout
  // stays one valid JSON document.
  write_file(repo_ + "/snapshots/" + std::string(64, 'e'), "garbage");
  Result r = lb({"snapshots", "--json"});
  EXPECT_EQ(r.code, kOk) << r;
  EXPECT_EQ(json::parse(r.out).size(), 1u);
  ASSERT_FALSE(r.err_lines().empty()) << r;
  for (const auto& line : r.err_lines()) EXPECT_EQ(line.rfind("lifeboat: warning: ", 0), 0u) << r;
}

}  // namespace
}  // namespace lifeboat::cli_e2e
