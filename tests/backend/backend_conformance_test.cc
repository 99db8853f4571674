// The one conformance suite every Backend passes. A new backend (REST, S3,
// SFTP) joins by adding a factory to kBackends at the bottom.

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/local_backend.h"
#include "backend/mem_backend.h"
#include "backend/rest_backend.h"
#include "backend/s3_backend.h"
#include "backend/sftp_backend.h"
#include "support/rest_server.h"
#include "support/rgw_server.h"
#include "support/sshd_server.h"
#include "base/hex.h"

namespace lifeboat::backend {
namespace {

struct BackendFactory {
  std::string name;
  // Makes a backend whose storage lives under `scratch` (a fresh, empty
  // directory removed after the test) or wherever the backend likes.
  std::function<std::unique_ptr<Backend>(const std::string& scratch)> make;
  // Two writers creating one name at the same moment: exactly one wins.
  // Plain HTTP servers that overwrite (a REST server not in append-only
  // mode) cannot promise it; names there are content hashes, so both
  // writers write the same bytes.
  bool atomic_create = true;
};

// Test names show the backend's name, not the factory's bytes.
void PrintTo(const BackendFactory& f, std::ostream* os) { *os << f.name; }

Bytes pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng() >> 56);
  return out;
}

// A 64-hex-digit name like the repository's ids.
std::string name_of(uint64_t i) {
  std::mt19937_64 rng(i * 7919 + 1);
  Bytes b(32);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return to_hex(b);
}

Handle handle(ObjectType type, const std::string& name) { return Handle{type, name}; }

template <typename Fn>
ErrorCode code_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected an Error";
  return ErrorCode::kInternal;
}

std::map<std::string, uint64_t> listing(Backend& b, ObjectType type) {
  std::map<std::string, uint64_t> out;
  b.list(type, [&](std::string_view name, uint64_t size) {
    EXPECT_TRUE(out.emplace(std::string(name), size).second) << "listed twice: " << name;
  });
  return out;
}

constexpr ObjectType kAllTypes[] = {ObjectType::kConfig, ObjectType::kKey,
                                    ObjectType::kData,   ObjectType::kIndex,
                                    ObjectType::kSnapshot, ObjectType::kLock};

class BackendConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lifeboat-backend-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    scratch_ = tmpl;
    backend_ = GetParam().make(scratch_);
    backend_->create();
  }
  void TearDown() override {
    backend_.reset();
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  Backend& b() { return *backend_; }

  std::string scratch_;
  std::unique_ptr<Backend> backend_;
};

TEST_P(BackendConformance, CreateTwiceWithConfigIsAlreadyExists) {
  b().save(handle(ObjectType::kConfig, "config"), as_bytes("cfg"));
  EXPECT_EQ(code_of([&] { b().create(); }), ErrorCode::kAlreadyExists);
  // The existing repository is untouched.
  Bytes cfg = b().load(handle(ObjectType::kConfig, "config"));
  EXPECT_EQ(as_chars(cfg), "cfg");
}

TEST_P(BackendConformance, CreateWithoutConfigIsRepeatable) {
  EXPECT_NO_THROW(b().create());
}

TEST_P(BackendConformance, RoundTripEveryType) {
  uint64_t seed = 1;
  for (ObjectType t : kAllTypes) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{100000}}) {
      Handle h = handle(t, t == ObjectType::kConfig ? "config" : name_of(seed));
      Bytes data = pattern(n, seed++);
      if (t == ObjectType::kConfig) b().remove(h);
      b().save(h, data);
      EXPECT_EQ(b().load(h), data) << h.path();
      EXPECT_EQ(b().size(h), n) << h.path();
    }
  }
}

TEST_P(BackendConformance, RoundTripLargeObject) {
  Handle h = handle(ObjectType::kData, name_of(42));
  Bytes data = pattern(20 << 20, 42);
  b().save(h, data);
  EXPECT_EQ(b().size(h), data.size());
  Bytes got = b().load(h);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(BackendConformance, RangedLoads) {
  Handle h = handle(ObjectType::kData, name_of(7));
  Bytes data = pattern(10000, 7);
  b().save(h, data);
  auto slice = [&](size_t off, size_t len) {
    return Bytes(data.begin() + off, data.begin() + off + len);
  };
  EXPECT_EQ(b().load(h, 0, 100), slice(0, 100));
  EXPECT_EQ(b().load(h, 4321, 1234), slice(4321, 1234));
  EXPECT_EQ(b().load(h, 9900, 100), slice(9900, 100));
  EXPECT_EQ(b().load(h, 9999, 1), slice(9999, 1));
  // length 0 means "to the end".
  EXPECT_EQ(b().load(h, 0, 0), data);
  EXPECT_EQ(b().load(h, 5000, 0), slice(5000, 5000));
  EXPECT_TRUE(b().load(h, 10000, 0).empty());
}

TEST_P(BackendConformance, RangePastEndIsCorrupt) {
  Handle h = handle(ObjectType::kData, name_of(8));
  b().save(h, pattern(1000, 8));
  EXPECT_EQ(code_of([&] { b().load(h, 900, 101); }), ErrorCode::kCorrupt);
  EXPECT_EQ(code_of([&] { b().load(h, 1000, 1); }), ErrorCode::kCorrupt);
  EXPECT_EQ(code_of([&] { b().load(h, 1001, 0); }), ErrorCode::kCorrupt);
  EXPECT_EQ(code_of([&] { b().load(h, UINT64_MAX, 2); }), ErrorCode::kCorrupt);
  EXPECT_EQ(code_of([&] { b().load(h, 2, UINT64_MAX); }), ErrorCode::kCorrupt);
}

TEST_P(BackendConformance, MissingObject) {
  for (ObjectType t : kAllTypes) {
    Handle h = handle(t, t == ObjectType::kConfig ? "config" : name_of(99));
    try {
      b().load(h);
      ADD_FAILURE() << "loaded a missing object " << h.path();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
      // The message names the object.
      EXPECT_NE(std::string(e.what()).find(h.path()), std::string::npos) << e.what();
    }
    EXPECT_EQ(b().size(h), std::nullopt);
  }
}

TEST_P(BackendConformance, SaveExistingNameIsAlreadyExists) {
  for (ObjectType t : {ObjectType::kConfig, ObjectType::kKey, ObjectType::kData,
                       ObjectType::kIndex, ObjectType::kSnapshot}) {
    Handle h = handle(t, t == ObjectType::kConfig ? "config" : name_of(5));
    Bytes first = pattern(500, 1);
    b().save(h, first);
    EXPECT_EQ(code_of([&] { b().save(h, pattern(700, 2)); }), ErrorCode::kAlreadyExists)
        << h.path();
    EXPECT_EQ(b().load(h), first) << h.path();
    EXPECT_EQ(b().size(h), 500u);
  }
}

TEST_P(BackendConformance, LockCanBeReplaced) {
  Handle h = handle(ObjectType::kLock, name_of(3));
  b().save(h, pattern(100, 1));
  Bytes second = pattern(50, 2);
  EXPECT_NO_THROW(b().save(h, second));
  EXPECT_EQ(b().load(h), second);
  EXPECT_EQ(listing(b(), ObjectType::kLock), (std::map<std::string, uint64_t>{{h.name, 50}}));
}

TEST_P(BackendConformance, Remove) {
  Handle h = handle(ObjectType::kSnapshot, name_of(4));
  b().save(h, as_bytes("snap"));
  b().remove(h);
  EXPECT_EQ(b().size(h), std::nullopt);
  EXPECT_EQ(code_of([&] { b().load(h); }), ErrorCode::kNotFound);
  EXPECT_TRUE(listing(b(), ObjectType::kSnapshot).empty());
  EXPECT_NO_THROW(b().remove(h));
  EXPECT_NO_THROW(b().remove(handle(ObjectType::kData, name_of(1234))));
  // The name is free again.
  b().save(h, as_bytes("again"));
  EXPECT_EQ(as_chars(b().load(h)), "again");
}

TEST_P(BackendConformance, ListReturnsExactlyWhatWasSaved) {
  std::map<ObjectType, std::map<std::string, uint64_t>> want;
  uint64_t seed = 100;
  for (ObjectType t : kAllTypes) {
    if (t == ObjectType::kConfig) {
      EXPECT_TRUE(listing(b(), t).empty());
      b().save(handle(t, "config"), pattern(33, seed));
      want[t]["config"] = 33;
      continue;
    }
    // Data spreads over many of the 256 prefixes.
    int count = t == ObjectType::kData ? 300 : 5;
    for (int i = 0; i < count; ++i) {
      std::string name = name_of(seed);
      size_t n = static_cast<size_t>(seed % 97);
      b().save(handle(t, name), pattern(n, seed));
      want[t][name] = n;
      ++seed;
    }
  }
  std::set<std::string> prefixes;
  for (const auto& [name, size] : want[ObjectType::kData]) prefixes.insert(name.substr(0, 2));
  EXPECT_GT(prefixes.size(), 150u);
  for (ObjectType t : kAllTypes) {
    EXPECT_EQ(listing(b(), t), want[t]) << object_type_dir(t);
  }
}

TEST_P(BackendConformance, ListCallbackMayUseTheBackend) {
  Handle h = handle(ObjectType::kIndex, name_of(1));
  b().save(h, as_bytes("idx"));
  int seen = 0;
  b().list(ObjectType::kIndex, [&](std::string_view name, uint64_t) {
    EXPECT_EQ(as_chars(b().load(handle(ObjectType::kIndex, std::string(name)))), "idx");
    ++seen;
  });
  EXPECT_EQ(seen, 1);
}

TEST_P(BackendConformance, ConcurrentSaves) {
  constexpr int kThreads = 8;
  constexpr int kObjects = 200;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < kObjects;) {
        try {
          b().save(handle(ObjectType::kData, name_of(i)), pattern(1000 + i, i));
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = listing(b(), ObjectType::kData);
  ASSERT_EQ(got.size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    EXPECT_EQ(got[name_of(i)], static_cast<uint64_t>(1000 + i));
  }
  EXPECT_EQ(b().load(handle(ObjectType::kData, name_of(77))), pattern(1077, 77));
}

TEST_P(BackendConformance, ConcurrentSavesOfOneNameExactlyOneWins) {
  constexpr int kThreads = 8;
  Handle h = handle(ObjectType::kIndex, name_of(11));
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  // Where create is not atomic the writers of one name write the same bytes,
  // as they do in a repository (names are content hashes): a server that
  // lets racing writers interleave (rclone did, about 1 run in 25, with
  // different bytes) still ends with those bytes.
  const auto bytes_of_writer = [&](int t) { return pattern(5000, GetParam().atomic_create ? 1000 + t : 1000); };
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        b().save(h, bytes_of_writer(t));
        ++won;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kAlreadyExists) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  if (GetParam().atomic_create) {
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(refused.load(), kThreads - 1);
  } else {
    EXPECT_GE(won.load(), 1);
    EXPECT_EQ(won.load() + refused.load(), kThreads);
  }
  // Whoever won, the object is one writer's complete bytes.
  Bytes got = b().load(h);
  bool matches_one = false;
  for (int t = 0; t < kThreads; ++t) matches_one |= got == bytes_of_writer(t);
  EXPECT_TRUE(matches_one);
}

TEST_P(BackendConformance, InvalidNamesAreRejected) {
  for (const char* bad : {"", "a/b", ".hidden", "..", "."}) {
    EXPECT_EQ(code_of([&] { b().save(handle(ObjectType::kKey, bad), as_bytes("x")); }),
              ErrorCode::kInvalidArgument)
        << "'" << bad << "'";
  }
  for (const char* bad : {"z", "zz0011", "AB00", "g0"}) {
    EXPECT_EQ(code_of([&] { b().save(handle(ObjectType::kData, bad), as_bytes("x")); }),
              ErrorCode::kInvalidArgument)
        << "'" << bad << "'";
  }
  for (ObjectType t : kAllTypes) EXPECT_TRUE(listing(b(), t).empty());
}

// A REST backend that owns the server it talks to (one per test).
class ServedRest : public RestBackend {
 public:
  explicit ServedRest(std::unique_ptr<test::RestServer> server)
      : RestBackend(server->url() + "/repo"), server_(std::move(server)) {}

 private:
  std::unique_ptr<test::RestServer> server_;
};

// A bucket of its own on the shared gateway. The suite stores arbitrary
// bytes under arbitrary names, so the name is not the upload checksum here
// (the body's SHA-256 is computed instead); small parts so multipart
// uploads are exercised by RoundTripLargeObject.
std::unique_ptr<Backend> make_s3(int object_lock_days = 0) {
  const auto& rgw = test::RgwServer::shared();
  S3Settings settings;
  settings.key_id = rgw.key_id();
  settings.secret = rgw.secret();
  S3Options options;
  options.content_named = false;
  options.part_size = 5u << 20;
  options.multipart_threshold = 8u << 20;
  options.object_lock_days = object_lock_days;
  return std::make_unique<S3Backend>(rgw.endpoint() + "/" + test::RgwServer::fresh_bucket() + "/repo",
                                     settings, options);
}

// An SFTP backend that owns the sshd it talks to (one per test); the
// repository is "repo" in the test user's home.
class ServedSftp : public SftpBackend {
 public:
  explicit ServedSftp(std::unique_ptr<test::SshdServer> server)
      : SftpBackend(server->authority() + server->home() + "/repo", options_for(*server)), server_(std::move(server)) {}

 private:
  static SftpOptions options_for(const test::SshdServer& server) {
    SftpOptions o;
    o.identity_file = server.identity();
    o.known_hosts_file = server.known_hosts();
    return o;
  }
  std::unique_ptr<test::SshdServer> server_;
};

const BackendFactory kBackends[] = {
    {"Mem", [](const std::string&) { return std::make_unique<MemBackend>(); }},
    {"Local",
     [](const std::string& scratch) { return std::make_unique<LocalBackend>(scratch + "/repo"); }},
    {"Rest",
     [](const std::string& scratch) {
       return std::make_unique<ServedRest>(std::make_unique<test::RestServer>(scratch + "/rclone"));
     },
     false},
    {"S3", [](const std::string&) { return make_s3(); }},
    // A bucket made with Object Lock, everything written with a retention:
    // versioned, so create-only is a HEAD before the PUT (not atomic).
    {"S3ObjectLock", [](const std::string&) { return make_s3(1); }, false},

    {"Sftp",
     [](const std::string& scratch) {
       return std::make_unique<ServedSftp>(std::make_unique<test::SshdServer>(scratch + "/sshd"));
     }},
};

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendConformance, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<BackendFactory>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace lifeboat::backend
