// What the S3 backend adds to the conformance suite, against a real Ceph
// RADOS Gateway (it checks every signature and every payload hash):
// listings over many pages, names as upload checksums, credentials that are
// refused and never shown, virtual-hosted addressing, multipart uploads that
// leave nothing behind, settings from the environment, URLs.

#include "backend/s3_backend.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "base/clock.h"
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
                             "LIFEBOAT_S3_BUCKET_LOOKUP", "LIFEBOAT_S3_PART_SIZE_MIB",
                             "LIFEBOAT_S3_OBJECT_LOCK_DAYS", "LIFEBOAT_S3_OBJECT_LOCK_MODE"}) {
      if (const char* v = ::getenv(name)) saved_[name] = v;
      ::unsetenv(name);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HOME",
                             "LIFEBOAT_S3_BUCKET_LOOKUP", "LIFEBOAT_S3_PART_SIZE_MIB",
                             "LIFEBOAT_S3_OBJECT_LOCK_DAYS", "LIFEBOAT_S3_OBJECT_LOCK_MODE"})
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

TEST(S3Settings, ObjectLockFromTheEnvironment) {
  {
    ScopedEnv env(std::map<std::string, std::string>{{"LIFEBOAT_S3_OBJECT_LOCK_DAYS", "30"}});
    S3Options o = S3Options::from_environment();
    EXPECT_EQ(o.object_lock_days, 30);
    EXPECT_EQ(o.object_lock_mode, "COMPLIANCE");
  }
  {
    ScopedEnv env(std::map<std::string, std::string>{{"LIFEBOAT_S3_OBJECT_LOCK_DAYS", "7"},
                                                     {"LIFEBOAT_S3_OBJECT_LOCK_MODE", "GOVERNANCE"}});
    EXPECT_EQ(S3Options::from_environment().object_lock_mode, "GOVERNANCE");
  }
  EXPECT_EQ(S3Options{}.object_lock_days, 0);  // off unless asked for
  for (const std::map<std::string, std::string>& bad :
       {std::map<std::string, std::string>{{"LIFEBOAT_S3_OBJECT_LOCK_DAYS", "0"}},
        {{"LIFEBOAT_S3_OBJECT_LOCK_DAYS", "7d"}},
        {{"LIFEBOAT_S3_OBJECT_LOCK_DAYS", "7"}, {"LIFEBOAT_S3_OBJECT_LOCK_MODE", "compliant"}},
        {{"LIFEBOAT_S3_OBJECT_LOCK_MODE", "COMPLIANCE"}}}) {
    ScopedEnv env(bad);
    ErrorCode code{};
    error_of([] { S3Options::from_environment(); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << bad.begin()->second;
  }
}

// The gateway's own answer to a request, signed with the test user's
// credentials (which are the gateway's administrator's, in effect).
HttpResponse raw(const char* method, const std::string& path, std::vector<std::string> headers = {}) {
  const auto& rgw = test::RgwServer::shared();
  HttpClient http(rgw.endpoint(), rgw.endpoint(), HttpOptions{});
  http.set_aws_sigv4("aws:amz:us-east-1:s3", rgw.key_id(), rgw.secret());
  headers.push_back("x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  return http.perform(HttpRequest{method, path, {}, {}, headers});
}

// The version ids of `key` in `bucket`: (object versions, delete markers).
std::pair<std::vector<std::string>, std::vector<std::string>> versions_of(const std::string& bucket,
                                                                          const std::string& key) {
  std::string encoded;  // a query value: '/' encoded, as SigV4 signs it
  for (char c : key) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
  HttpResponse r = raw("GET", "/" + bucket + "?prefix=" + encoded + "&versions=");
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  std::pair<std::vector<std::string>, std::vector<std::string>> out;
  for (auto v : doc.child("ListVersionsResult").children("Version"))
    if (std::string_view(v.child_value("Key")) == key) out.first.push_back(v.child_value("VersionId"));
  for (auto v : doc.child("ListVersionsResult").children("DeleteMarker"))
    if (std::string_view(v.child_value("Key")) == key) out.second.push_back(v.child_value("VersionId"));
  return out;
}

std::unique_ptr<S3Backend> locked_backend(const std::string& bucket, int days, const std::string& mode = "COMPLIANCE") {
  S3Options o;
  o.object_lock_days = days;
  o.object_lock_mode = mode;
  o.part_size = 5u << 20;
  o.multipart_threshold = 6u << 20;
  return std::make_unique<S3Backend>(test::RgwServer::shared().endpoint() + "/" + bucket + "/r", test_settings(), o);
}

TEST(S3Backend, ObjectLockRetainsWhatIsWrittenEvenAgainstTheAdmin) {
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto b = locked_backend(bucket, 1);
  b->create();  // makes the bucket with Object Lock
  EXPECT_NE(std::string(as_chars(raw("GET", "/" + bucket + "?object-lock=").body)).find("Enabled"), std::string::npos);

  const Bytes small = bytes_of(1000, 1), big = bytes_of((7u << 20) + 5, 2);  // big: 2 parts
  const Handle data = content_handle(ObjectType::kData, small), pack = content_handle(ObjectType::kData, big);
  const Handle snapshot = content_handle(ObjectType::kSnapshot, bytes_of(300, 3));
  const Handle lock{ObjectType::kLock, std::string(64, 'a')};
  b->save(data, small);
  b->save(pack, big);
  b->save(snapshot, bytes_of(300, 3));
  b->save(lock, bytes_of(10, 4));
  b->save(lock, bytes_of(12, 5));  // locks are replaced
  const UnixNanos now = now_unix_nanos();
  for (const Handle& h : {data, pack, snapshot}) {
    HttpResponse head = raw("HEAD", "/" + bucket + "/r/" + h.path());
    ASSERT_EQ(head.status, 200) << h.path();
    EXPECT_EQ(head.header("x-amz-object-lock-mode"), "COMPLIANCE") << h.path();
    const UnixNanos until = parse_rfc3339(head.header("x-amz-object-lock-retain-until-date"));
    EXPECT_GT(until, now + 23 * 3600 * 1000000000LL) << h.path();
    EXPECT_LT(until, now + 25 * 3600 * 1000000000LL) << h.path();
  }
  EXPECT_EQ(raw("HEAD", "/" + bucket + "/r/" + lock.path()).header("x-amz-object-lock-mode"), "");
  EXPECT_TRUE(b->load(pack, 0, 0) == big);
  EXPECT_NO_THROW(b->save(pack, big));  // a retry after a lost answer: saved (its retention set again)
  // Create-only although the server takes If-None-Match for nothing here.
  ErrorCode code{};
  error_of([&] { b->save(snapshot, bytes_of(301, 9)); }, &code);
  EXPECT_EQ(code, ErrorCode::kAlreadyExists);

  // remove() hides the object (a delete marker) ...
  b->remove(snapshot);
  b->remove(lock);
  EXPECT_EQ(b->size(snapshot), std::nullopt);
  size_t listed = 0;
  b->list(ObjectType::kSnapshot, [&](std::string_view, uint64_t) { ++listed; });
  EXPECT_EQ(listed, 0u);
  // ... but its version stays: the administrator's credentials cannot
  // delete it before its time, bypass header or not.
  const std::string key = "r/" + snapshot.path();
  auto [kept, markers] = versions_of(bucket, key);
  ASSERT_EQ(kept.size(), 1u);
  ASSERT_EQ(markers.size(), 1u);
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"x-amz-bypass-governance-retention: true"}}) {
    HttpResponse del = raw("DELETE", "/" + bucket + "/" + key + "?versionId=" + kept[0], extra);
    EXPECT_EQ(del.status, 403) << as_chars(del.body);
    EXPECT_NE(std::string(as_chars(del.body)).find("AccessDenied"), std::string::npos) << as_chars(del.body);
  }
  EXPECT_EQ(versions_of(bucket, key).first, kept);
  // Removing the delete marker undeletes it.
  EXPECT_EQ(raw("DELETE", "/" + bucket + "/" + key + "?versionId=" + markers[0]).status, 204);
  EXPECT_TRUE(b->load(snapshot, 0, 0) == bytes_of(300, 3));
}

// A writer killed in the middle of a multipart upload leaves parts that
// cost storage and are listed nowhere; prune abandons such uploads under
// the repository's prefix (and only there) once they are old.
TEST(S3Backend, StaleMultipartUploadsUnderThePrefixAreAbandoned) {
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto b = std::make_unique<S3Backend>(test::RgwServer::shared().endpoint() + "/" + bucket + "/repo", test_settings());
  b->create();
  const std::string name(64, 'a');
  ASSERT_EQ(raw("POST", "/" + bucket + "/repo/data/aa/" + name + "?uploads=").status, 200);
  ASSERT_EQ(raw("POST", "/" + bucket + "/elsewhere/x?uploads=").status, 200);
  EXPECT_EQ(b->abort_stale_uploads(3600), 0u) << "a fresh upload may be a running writer's";
  // Every upload started before a minute from now counts as old.
  EXPECT_EQ(b->abort_stale_uploads(-60), 1u);
  const std::string left(as_chars(raw("GET", "/" + bucket + "?uploads=").body));
  EXPECT_EQ(left.find("repo/data/aa/"), std::string::npos) << left;
  EXPECT_NE(left.find("elsewhere/x"), std::string::npos) << "an upload outside the prefix was touched: " << left;
}

// Retention counts from the upload; renew_lock sets it to now + the lock
// period again once less than `at_least` is left, and only then.
TEST(S3Backend, ObjectLockRetentionIsRenewedOnlyWhenItEndsSoon) {
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto one_day = locked_backend(bucket, 1);
  one_day->create();
  const Bytes d = bytes_of(500, 11);
  const Handle h = content_handle(ObjectType::kData, d);
  one_day->save(h, d);
  auto until = [&] {
    return parse_rfc3339(raw("HEAD", "/" + bucket + "/r/" + h.path()).header("x-amz-object-lock-retain-until-date"));
  };
  const int64_t hour = 3600 * 1000000000LL;
  EXPECT_LT(until(), now_unix_nanos() + 25 * hour);

  auto four_days = locked_backend(bucket, 4);
  EXPECT_EQ(four_days->lock_period_seconds(), 4 * 86400);
  EXPECT_FALSE(four_days->renew_lock(h, 12 * 3600)) << "a day left is more than 12 hours";
  EXPECT_LT(until(), now_unix_nanos() + 25 * hour);
  EXPECT_TRUE(four_days->renew_lock(h, 2 * 86400)) << "a day left is less than two";
  EXPECT_GT(until(), now_unix_nanos() + 95 * hour);
  EXPECT_LT(until(), now_unix_nanos() + 97 * hour);
  EXPECT_FALSE(four_days->renew_lock(h, 2 * 86400)) << "renewed twice";

  ErrorCode code{};
  error_of([&] { four_days->renew_lock(content_handle(ObjectType::kData, bytes_of(10, 12)), 86400); }, &code);
  EXPECT_EQ(code, ErrorCode::kNotFound);
  // Locks are never retained, and a backend without Object Lock renews nothing.
  EXPECT_FALSE(four_days->renew_lock({ObjectType::kLock, std::string(64, 'b')}, 86400));
  auto plain = std::make_unique<S3Backend>(test::RgwServer::shared().endpoint() + "/" + bucket + "/r", test_settings());
  EXPECT_EQ(plain->lock_period_seconds(), 0);
  EXPECT_FALSE(plain->renew_lock(h, 30 * 86400));
}

TEST(S3Backend, ObjectLockGovernanceMode) {
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto b = locked_backend(bucket, 2, "GOVERNANCE");
  b->create();
  const Bytes d = bytes_of(100, 7);
  const Handle h = content_handle(ObjectType::kIndex, d);
  b->save(h, d);
  HttpResponse head = raw("HEAD", "/" + bucket + "/r/" + h.path());
  EXPECT_EQ(head.header("x-amz-object-lock-mode"), "GOVERNANCE");
  EXPECT_GT(parse_rfc3339(head.header("x-amz-object-lock-retain-until-date")), now_unix_nanos() + 47 * 3600 * 1000000000LL);
}

TEST(S3Backend, ObjectLockNeedsABucketMadeWithIt) {
  const std::string bucket = test::RgwServer::fresh_bucket();
  auto plain = std::make_unique<S3Backend>(test::RgwServer::shared().endpoint() + "/" + bucket + "/r", test_settings());
  plain->create();
  auto b = locked_backend(bucket, 1);
  const Bytes d = bytes_of(100, 8);
  for (auto attempt : {std::function<void()>([&] { b->save(content_handle(ObjectType::kData, d), d); }),
                       std::function<void()>([&] { b->create(); })}) {
    ErrorCode code{};
    const std::string msg = error_of(attempt, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << msg;
    EXPECT_NE(msg.find("does not have Object Lock enabled"), std::string::npos) << msg;
    EXPECT_NE(msg.find(bucket), std::string::npos) << msg;
  }
  EXPECT_EQ(plain->size(content_handle(ObjectType::kData, d)), std::nullopt);  // nothing written
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
