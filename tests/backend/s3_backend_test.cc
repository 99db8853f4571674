// What the S3 backend adds to the conformance suite, against a real Ceph
// RADOS Gateway (it checks every signature and every payload hash):
// listings over many pages, names as upload checksums, credentials that are
// refused and never shown, virtual-hosted addressing, multipart uploads that
// leave nothing behind, settings from the environment, URLs.

#include "backend/s3_backend.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "crypto/mac.h"
#include "support/rgw_server.h"

namespace lifeboat::backend {
namespace {

S3Settings test_settings() {
  const auto& rgw = test::RgwServer::shared();
  S3Settings s;
  s.key_id = rgw.key_id();
  s.secret = rgw.secret();
  return s;
}

std::unique_ptr<S3Backend> fresh_backend(S3Options options = {}, S3Settings settings = test_settings(),
                                         std::string endpoint = "") {
  if (endpoint.empty()) endpoint = test::RgwServer::shared().endpoint();
  auto b = std::make_unique<S3Backend>(endpoint + "/" + test::RgwServer::fresh_bucket() + "/p/q", settings,
                                       options);
  b->create();
  return b;
}

Bytes bytes_of(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + seed);
  return b;
}

// An object named by its content, as the repository writes them.
Handle content_handle(ObjectType type, ByteView data) { return Handle{type, crypto::sha256(data).hex()}; }

template <typename Fn>
std::string error_of(Fn&& fn, ErrorCode* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  ADD_FAILURE() << "expected an Error";
  return {};
}

TEST(S3Backend, ListingsSpanManyPages) {
  S3Options o;
  o.list_page_size = 7;
  auto b = fresh_backend(o);
  std::map<std::string, uint64_t> saved;
  for (int i = 0; i < 40; ++i) {
    Bytes data = bytes_of(10 + i, static_cast<uint8_t>(i));
    Handle h = content_handle(ObjectType::kData, data);
    b->save(h, data);
    saved[h.name] = data.size();
  }
  b->save(content_handle(ObjectType::kIndex, bytes_of(5, 1)), bytes_of(5, 1));
  std::map<std::string, uint64_t> listed;
  b->list(ObjectType::kData, [&](std::string_view name, uint64_t size) {
    EXPECT_TRUE(listed.emplace(std::string(name), size).second) << "listed twice: " << name;
  });
  EXPECT_EQ(listed, saved);  // 6 pages, every shard, nothing of index/
}

TEST(S3Backend, TheNameIsTheUploadChecksum) {
  auto b = fresh_backend();
  Bytes data = bytes_of(100000, 3);
  Handle good = content_handle(ObjectType::kData, data);
  b->save(good, data);
  EXPECT_EQ(b->load(good, 0, 0), data);
  // Bytes that are not what their name says are refused by the server,
  // and nothing is stored under that name.
  Bytes other = bytes_of(100000, 4);
  Handle wrong{ObjectType::kData, crypto::sha256(bytes_of(7, 7)).hex()};
  ErrorCode code{};
  const std::string msg = error_of([&] { b->save(wrong, other); }, &code);
  EXPECT_EQ(code, ErrorCode::kCorrupt) << msg;
  EXPECT_NE(msg.find(wrong.path()), std::string::npos) << msg;
  EXPECT_FALSE(b->size(wrong));
  // Config and locks are not content-named: their hash is computed.
  b->save(Handle{ObjectType::kLock, crypto::sha256(bytes_of(1, 1)).hex()}, bytes_of(300, 9));
}

TEST(S3Backend, WrongCredentialsAreRefusedAndNeverShown) {
  S3Settings s = test_settings();
  s.secret = "not-the-secret-0123456789-not-the-secret";
  S3Backend b(test::RgwServer::shared().endpoint() + "/anybucket", s);
  ErrorCode code{};
  const std::string msg = error_of([&] { b.size(Handle{ObjectType::kConfig, "config"}); }, &code);
  EXPECT_EQ(code, ErrorCode::kPermission) << msg;
  EXPECT_NE(msg.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(s.secret), std::string::npos) << msg;
  EXPECT_EQ(b.location().find(s.secret), std::string::npos);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(S3Backend, VirtualHostedAddressing) {
  // The gateway serves buckets as <bucket>.localhost (rgw dns name), and
  // *.localhost resolves to 127.0.0.1 in libcurl.
  std::string endpoint = test::RgwServer::shared().endpoint();
  endpoint.replace(endpoint.find("127.0.0.1"), 9, "localhost");
  S3Settings dns = test_settings();
  dns.bucket_lookup = "dns";
  const std::string bucket = test::RgwServer::fresh_bucket();
  S3Backend vhost(endpoint + "/" + bucket + "/r", dns);
  vhost.create();
  Bytes data = bytes_of(5000, 5);
  Handle h = content_handle(ObjectType::kSnapshot, data);
  vhost.save(h, data);
  // The same object through path-style addressing.
  S3Backend path(test::RgwServer::shared().endpoint() + "/" + bucket + "/r", test_settings());
  EXPECT_EQ(path.load(h, 0, 0), data);
  EXPECT_EQ(vhost.load(h, 100, 50), Bytes(data.begin() + 100, data.begin() + 150));
}

// The gateway's own answer to a GET of `path_and_query` (signed by curl).
std::string raw_get(const std::string& path_and_query) {
  const auto& rgw = test::RgwServer::shared();
  const std::string cmd = "curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user '" + rgw.key_id() + ":" + rgw.secret() +
                          "' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '" + rgw.endpoint() + path_and_query + "'";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

TEST(S3Backend, MultipartUploadsAreCompleteAndLeaveNoParts) {
  S3Options o;
  o.part_size = 5u << 20;
  o.multipart_threshold = 6u << 20;
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto b = std::make_unique<S3Backend>(test::RgwServer::shared().endpoint() + "/" + bucket, test_settings(), o);
  b->create();
  Bytes data = bytes_of((11u << 20) + 12345, 8);  // 3 parts
  Handle h = content_handle(ObjectType::kData, data);
  b->save(h, data);
  EXPECT_EQ(b->size(h), data.size());
  EXPECT_TRUE(b->load(h, 0, 0) == data);
  EXPECT_EQ(b->load(h, (5u << 20) - 10, 20), Bytes(data.begin() + (5u << 20) - 10, data.begin() + (5u << 20) + 10));
  // Create-only holds for multipart uploads too; saving these very bytes
  // again (a retry whose answer was lost) is saved.
  ErrorCode code{};
  error_of([&] { b->save(h, bytes_of(7u << 20, 9)); }, &code);
  EXPECT_EQ(code, ErrorCode::kAlreadyExists);
  EXPECT_NO_THROW(b->save(h, data));
  EXPECT_TRUE(b->load(h, 0, 0) == data);
  // No upload is left open (its parts would cost storage unseen).
  const std::string uploads = raw_get("/" + bucket + "?uploads=");
  EXPECT_NE(uploads.find("ListMultipartUploadsResult"), std::string::npos) << uploads;
  EXPECT_EQ(uploads.find("<Upload>"), std::string::npos) << uploads;
}

class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& vars) {
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HOME",
                             "LIFEBOAT_S3_BUCKET_LOOKUP", "LIFEBOAT_S3_PART_SIZE_MIB"}) {
      if (const char* v = ::getenv(name)) saved_[name] = v;
      ::unsetenv(name);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HOME",
                             "LIFEBOAT_S3_BUCKET_LOOKUP", "LIFEBOAT_S3_PART_SIZE_MIB"})
      ::unsetenv(name);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST(S3Settings, FromEnvironmentVariables) {
  ScopedEnv env({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                 {"AWS_DEFAULT_REGION", "eu-west-1"}, {"AWS_REGION", "eu-central-1"}});
  S3Settings s = S3Settings::from_environment();
  EXPECT_EQ(s.key_id, "AKID");
  EXPECT_EQ(s.secret, "SECRET");
  EXPECT_EQ(s.region, "eu-central-1");  // AWS_REGION wins
}

TEST(S3Settings, FromTheSharedCredentialsFile) {
  const std::string file = ::testing::TempDir() + "/s3-credentials-test";
  std::ofstream(file) << "[default]\naws_access_key_id = DEF\naws_secret_access_key = DEFSECRET\n\n"
                         "# the backup profile\n[backup]\naws_access_key_id=BK\naws_secret_access_key = BKSECRET\n"
                         "region = ap-south-1\n";
  {
    ScopedEnv env({{"AWS_SHARED_CREDENTIALS_FILE", file}});
    EXPECT_EQ(S3Settings::from_environment().key_id, "DEF");
  }
  {
    ScopedEnv env({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "backup"}});
    S3Settings s = S3Settings::from_environment();
    EXPECT_EQ(s.key_id, "BK");
    EXPECT_EQ(s.secret, "BKSECRET");
    EXPECT_EQ(s.region, "ap-south-1");
  }
  {
    ScopedEnv env({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "nosuch"}});
    ErrorCode code{};
    const std::string msg = error_of([] { S3Settings::from_environment(); }, &code);
    EXPECT_EQ(code, ErrorCode::kPermission);
    EXPECT_NE(msg.find("[nosuch]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
  }
  std::filesystem::remove(file);
}

TEST(S3Settings, PartSizeFromTheEnvironment) {
  {
    ScopedEnv env(std::map<std::string, std::string>{{"LIFEBOAT_S3_PART_SIZE_MIB", "8"}});
    S3Options o = S3Options::from_environment();
    EXPECT_EQ(o.part_size, 8u << 20);
    EXPECT_EQ(o.multipart_threshold, 16u << 20);
  }
  for (const char* bad : {"4", "x", "8M", "99999"}) {
    ScopedEnv env(std::map<std::string, std::string>{{"LIFEBOAT_S3_PART_SIZE_MIB", bad}});
    ErrorCode code{};
    error_of([] { S3Options::from_environment(); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(S3Backend, BadUrlsAreOneLineErrors) {
  S3Settings s;
  s.key_id = "k";
  s.secret = "s";
  for (const char* bad : {"http://127.0.0.1:9", "http://127.0.0.1:9/", "ftp://host/bucket", "https:///bucket",
                          "http://user:pw@host/bucket"}) {
    ErrorCode code{};
    const std::string msg = error_of([&] { S3Backend b(bad, s); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(msg.find("s3:https://endpoint/bucket"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("pw@"), std::string::npos) << msg;
  }
  S3Backend plain("s3.example.com/bucket/a/b/", s);  // no scheme: HTTPS
  EXPECT_EQ(plain.location(), "s3:https://s3.example.com/bucket/a/b");
}

}  // namespace
}  // namespace lifeboat::backend
