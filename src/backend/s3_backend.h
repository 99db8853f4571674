// A repository in an S3 bucket (AWS, Ceph RADOS Gateway, MinIO, ...), over
// HTTP(S) with libcurl, which signs every request (AWS Signature V4).
//
// URL: s3:http(s)://endpoint[:port]/bucket[/prefix], or s3:endpoint/bucket
// (HTTPS). Objects live under the prefix with the layout of a local
// repository: config, keys/<name>, data/<2 hex>/<name>, ...
//
// Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
// else the profile AWS_PROFILE (default "default") of the shared credentials
// file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials). Never
// printed. Region: AWS_REGION or AWS_DEFAULT_REGION, default us-east-1.
// Addressing: LIFEBOAT_S3_BUCKET_LOOKUP=path|dns|auto (auto: virtual-hosted
// "dns" style for *.amazonaws.com, path style elsewhere).
//
// The contract of backend.h over S3:
// - create-only: PUT with If-None-Match: * (the server refuses an existing
//   name with 412). A 412 after an attempt whose answer was lost is our own
//   object when the sizes match (names are content hashes). Objects above
//   the multipart threshold are uploaded in parts; completing an upload
//   cannot be made conditional everywhere, so those ask first (HEAD).
// - absent or complete: S3 makes an object visible only when its PUT (or
//   CompleteMultipartUpload) succeeded.
// - checked uploads: every PUT carries the body's SHA-256 in the signed
//   x-amz-content-sha256 header; the server refuses a body that does not
//   match (for content-addressed objects the hash is their name, so it
//   costs nothing). A refused body is retried.
// - transient failures (transport, 5xx, 429, SlowDown, RequestTimeout, a
//   body damaged in transit) are retried by HttpClient.
//
// Object Lock (optional; S3Options::object_lock_days, from
// LIFEBOAT_S3_OBJECT_LOCK_DAYS / _MODE): every object but locks is written
// with a retention (mode COMPLIANCE or GOVERNANCE, until now + N days) and
// a Content-MD5, which S3 requires with a retention; the bucket must have
// Object Lock enabled (checked once before the first locked write; `create`
// makes a new bucket so). Such a bucket is versioned, so:
// - remove() adds a delete marker: the object is gone for size/load/list,
//   but its version stays until the retention ends (no credential can
//   delete it before), and deleting the marker brings it back;
// - servers may ignore If-None-Match on a versioned bucket (Ceph RGW 16
//   does), so save() asks first (HEAD) to keep objects create-only; two
//   racing writers of one name may then both succeed, each leaving a
//   version (names are content hashes: the same bytes).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "backend/http_client.h"

namespace lifeboat::backend {

struct S3Options {
  HttpOptions http;
  uint64_t part_size = 16u << 20;             // multipart part size (S3 minimum: 5 MiB)
  uint64_t multipart_threshold = 32u << 20;   // objects larger than this go in parts
  // Objects other than config and locks are named by the SHA-256 of their
  // bytes (the repository writes them so): the name is then the upload
  // checksum, and the server refuses bytes that do not match their name.
  // Off only for tests that store arbitrary bytes under arbitrary names.
  bool content_named = true;
  int list_page_size = 1000;  // keys per listing request (S3's maximum)
  // Object Lock retention of what is written (not locks): 0 = none.
  int object_lock_days = 0;
  std::string object_lock_mode = "COMPLIANCE";  // or GOVERNANCE
  // LIFEBOAT_S3_PART_SIZE_MIB=N: parts of N MiB for objects over 2N MiB.
  // LIFEBOAT_S3_OBJECT_LOCK_DAYS=N (1-36500) and
  // LIFEBOAT_S3_OBJECT_LOCK_MODE=COMPLIANCE|GOVERNANCE (needs the days).
  static S3Options from_environment();
};

// What the environment says (credentials, region, addressing, part sizes).
struct S3Settings {
  std::string key_id, secret, session_token;
  std::string region = "us-east-1";
  std::string bucket_lookup = "auto";  // path | dns | auto
  // Reads the variables named above; throws kPermission when no credentials
  // are found (naming where it looked).
  static S3Settings from_environment();
};

class S3Backend : public Backend {
 public:
  // `url` without the "s3:" prefix. Throws kInvalidArgument for a URL
  // without a bucket.
  S3Backend(const std::string& url, S3Settings settings, S3Options options = {});
  ~S3Backend() override;

  std::string location() const override { return shown_; }
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;
  size_t abort_stale_uploads(int64_t older_than_seconds) override;
  int64_t lock_period_seconds() const override { return int64_t{options_.object_lock_days} * 86400; }
  bool renew_lock(const Handle& h, int64_t at_least_seconds) override;

 private:
  std::string key_of(const Handle& h) const;        // "<prefix>/data/ab/<name>"
  std::string object_path(const std::string& key) const;  // "/<bucket>/<key>" or "/<key>", encoded
  std::string bucket_path() const;                  // the bucket itself
  HttpRequest request(const char* method, std::string path) const;
  void put_single(const Handle& h, ByteView data);
  void put_multipart(const Handle& h, ByteView data);
  void abort_other_uploads(const std::string& key);
  bool locks(const Handle& h) const { return options_.object_lock_days > 0 && h.type != ObjectType::kLock; }
  // The retention headers (and Content-MD5 of `body`, if any) for a write of
  // `h`, after checking once that the bucket has Object Lock enabled.
  void add_object_lock(HttpRequest& req, const Handle& h, ByteView body);
  void check_bucket_object_lock();
  // PutObjectRetention on what a multipart upload made: Ceph RGW 16 ignores
  // the retention given when the upload starts (AWS honours it; setting it
  // again, a moment later, only extends it).
  void set_retention(const Handle& h, const std::string& version_id);
  // After a refusal as an overwrite: is what is there already `data`?
  bool already_saved(const Handle& h, ByteView data, bool content_addressed);
  // Throws the error for an unexpected status, naming `object` if given.
  [[noreturn]] void fail(const HttpRequest& request, const HttpResponse& r,
                         const std::string& object = {}) const;

  std::string bucket_, prefix_;  // prefix without leading or trailing '/'; may be empty
  bool path_style_ = true;
  std::string shown_;            // s3:http(s)://endpoint/bucket/prefix
  S3Settings settings_;
  S3Options options_;
  std::unique_ptr<HttpClient> http_;
  std::once_flag object_lock_checked_;
};

}  // namespace lifeboat::backend
