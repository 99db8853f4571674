#include "backend/s3_backend.h"

#include <cstdlib>
#include <ctime>
#include <fstream>

#include <openssl/evp.h>
#include <pugixml.hpp>

#include "base/clock.h"
#include "crypto/mac.h"

namespace lifeboat::backend {

namespace {

// Names of this length in hex are content hashes: SHA-256 of the object.
bool is_hex64(std::string_view name) {
  if (name.size() != 64) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// and '/' stays in paths but not in query values.
std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// key = value pairs of one [profile] of an AWS shared credentials file.
std::optional<S3Settings> read_credentials_file(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  S3Settings s;
  bool in_profile = false;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      in_profile = trim(line.substr(1, line.find(']') - 1)) == profile;
      continue;
    }
    const auto eq = line.find('=');
    if (!in_profile || eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") s.key_id = value;
    if (key == "aws_secret_access_key") s.secret = value;
    if (key == "aws_session_token") s.session_token = value;
    if (key == "region") s.region = value;
  }
  if (s.key_id.empty() || s.secret.empty()) return std::nullopt;
  return s;
}

// The <Code> of an S3 error body, or "".
std::string error_code(const HttpResponse& r) {
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) return {};
  return doc.child("Error").child_value("Code");
}

// S3's "try again" answers besides 5xx: a body the server found damaged
// (its SHA-256 or MD5 did not match: changed on the way), a request that
// was too slow to arrive.
bool s3_retryable(const HttpResponse& r) {
  if (r.status != 400) return false;
  const std::string code = error_code(r);
  return code == "XAmzContentSHA256Mismatch" || code == "BadDigest" || code == "RequestTimeout" ||
         code == "IncompleteBody";
}

// Content-MD5: base64 of the body's MD5, which S3 wants with every write
// that carries a retention (its integrity check of choice there).
std::string content_md5(ByteView body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &len, EVP_md5(), nullptr) != 1)
    throw Error(ErrorCode::kInternal, "MD5 of an upload failed (OpenSSL)");
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

// "2026-12-26T09:00:00Z": now + days, as x-amz-object-lock-retain-until-date wants.
std::string retain_until(int days) {
  const std::time_t t = static_cast<std::time_t>(now_unix_nanos() / 1000000000 + int64_t{days} * 86400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

S3Settings S3Settings::from_environment() {
  S3Settings s;
  if (!env("AWS_ACCESS_KEY_ID").empty() || !env("AWS_SECRET_ACCESS_KEY").empty()) {
    s.key_id = env("AWS_ACCESS_KEY_ID");
    s.secret = env("AWS_SECRET_ACCESS_KEY");
    s.session_token = env("AWS_SESSION_TOKEN");
    if (s.key_id.empty() || s.secret.empty())
      throw Error(ErrorCode::kPermission,
                  "S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set");
  } else {
    std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
    if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
    const std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
    auto from_file = file.empty() ? std::nullopt : read_credentials_file(file, profile);
    if (!from_file)
      throw Error(ErrorCode::kPermission,
                  "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put "
                  "aws_access_key_id and aws_secret_access_key under [" + profile + "] in " +
                      (file.empty() ? "~/.aws/credentials" : file));
    s = *from_file;
  }
  if (!env("AWS_DEFAULT_REGION").empty()) s.region = env("AWS_DEFAULT_REGION");
  if (!env("AWS_REGION").empty()) s.region = env("AWS_REGION");
  if (!env("LIFEBOAT_S3_BUCKET_LOOKUP").empty()) s.bucket_lookup = env("LIFEBOAT_S3_BUCKET_LOOKUP");
  return s;
}

S3Options S3Options::from_environment() {
  S3Options o;
  if (const std::string v = env("LIFEBOAT_S3_PART_SIZE_MIB"); !v.empty()) {
    char* end = nullptr;
    const unsigned long long mib = std::strtoull(v.c_str(), &end, 10);
    if (*end != '\0' || mib < 5 || mib > 5120)
      throw Error(ErrorCode::kInvalidArgument,
                  "LIFEBOAT_S3_PART_SIZE_MIB='" + v + "' must be a whole number of MiB from 5 to 5120");
    o.part_size = mib << 20;
    o.multipart_threshold = 2 * o.part_size;
  }
  if (const std::string v = env("LIFEBOAT_S3_OBJECT_LOCK_DAYS"); !v.empty()) {
    char* end = nullptr;
    const long days = std::strtol(v.c_str(), &end, 10);
    if (*end != '\0' || days < 1 || days > 36500)
      throw Error(ErrorCode::kInvalidArgument,
                  "LIFEBOAT_S3_OBJECT_LOCK_DAYS='" + v + "' must be a whole number of days from 1 to 36500");
    o.object_lock_days = static_cast<int>(days);
  }
  if (const std::string v = env("LIFEBOAT_S3_OBJECT_LOCK_MODE"); !v.empty()) {
    if (v != "COMPLIANCE" && v != "GOVERNANCE")
      throw Error(ErrorCode::kInvalidArgument,
                  "LIFEBOAT_S3_OBJECT_LOCK_MODE='" + v + "' must be COMPLIANCE or GOVERNANCE");
    if (o.object_lock_days == 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "LIFEBOAT_S3_OBJECT_LOCK_MODE is set but LIFEBOAT_S3_OBJECT_LOCK_DAYS is not; set the days to retain");
    o.object_lock_mode = v;
  }
  return o;
}

S3Backend::S3Backend(const std::string& url, S3Settings settings, S3Options options)
    : settings_(std::move(settings)), options_(options) {
  std::string scheme = "https", rest = url;
  if (const auto e = url.find("://"); e != std::string::npos) {
    scheme = url.substr(0, e);
    rest = url.substr(e + 3);
  }
  const auto bad = [&](const std::string& why) {
    // Never echo credentials someone put into the URL.
    std::string shown = url;
    const auto at = shown.find('@'), start = url.find("://");
    if (at != std::string::npos && at < shown.find('/', start == std::string::npos ? 0 : start + 3))
      shown.erase(start == std::string::npos ? 0 : start + 3, at + 1 - (start == std::string::npos ? 0 : start + 3));
    return Error(ErrorCode::kInvalidArgument,
                 "S3 repository URL 's3:" + shown + "' " + why +
                     "; write s3:https://endpoint/bucket/prefix (s3:http:// for a local server)");
  };
  if (scheme != "http" && scheme != "https") throw bad("must use http or https");
  const auto slash = rest.find('/');
  const std::string host = rest.substr(0, slash);
  if (host.empty() || host.find('@') != std::string::npos)
    throw bad(host.empty() ? "has no endpoint" : "must not carry credentials (use AWS_ACCESS_KEY_ID)");
  std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.pop_back();
  const auto bslash = path.find('/');
  bucket_ = path.substr(0, bslash);
  prefix_ = bslash == std::string::npos ? "" : path.substr(bslash + 1);
  while (!prefix_.empty() && prefix_.front() == '/') prefix_.erase(0, 1);
  if (bucket_.empty()) throw bad("names no bucket");
  if (settings_.bucket_lookup == "dns") {
    path_style_ = false;
  } else if (settings_.bucket_lookup == "auto") {
    const std::string h = host.substr(0, host.rfind(':'));
    path_style_ = !(h == "amazonaws.com" || h.ends_with(".amazonaws.com"));
  } else if (settings_.bucket_lookup != "path") {
    throw Error(ErrorCode::kInvalidArgument, "LIFEBOAT_S3_BUCKET_LOOKUP='" + settings_.bucket_lookup +
                                                 "' must be path, dns or auto");
  }
  if (options_.part_size < (5u << 20)) options_.part_size = 5u << 20;
  shown_ = "s3:" + scheme + "://" + host + "/" + bucket_ + (prefix_.empty() ? "" : "/" + prefix_);
  const std::string base = scheme + "://" + (path_style_ ? host : bucket_ + "." + host);
  http_ = std::make_unique<HttpClient>(base, shown_, options_.http);
  http_->set_aws_sigv4("aws:amz:" + settings_.region + ":s3", settings_.key_id, settings_.secret);
  http_->set_retryable(s3_retryable);
}

S3Backend::~S3Backend() = default;

std::string S3Backend::key_of(const Handle& h) const {
  const std::string p = h.path();  // validates the name
  return prefix_.empty() ? p : prefix_ + "/" + p;
}

std::string S3Backend::object_path(const std::string& key) const {
  return (path_style_ ? "/" + uri_encode(bucket_, false) : "") + "/" + uri_encode(key, true);
}

std::string S3Backend::bucket_path() const {
  return path_style_ ? "/" + uri_encode(bucket_, false) : "/";
}

HttpRequest S3Backend::request(const char* method, std::string path) const {
  HttpRequest req{method, std::move(path), {}, {}, {}};
  // Without a body the payload hash is that of nothing.
  req.headers.push_back(
      "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  if (!settings_.session_token.empty())
    req.headers.push_back("x-amz-security-token: " + settings_.session_token);
  return req;
}

void S3Backend::fail(const HttpRequest& req, const HttpResponse& r, const std::string& object) const {
  const std::string what = (object.empty() ? "" : object + ": ") + std::string(req.method) + " " + shown_;
  const std::string code = error_code(r);
  const std::string suffix = " (HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + ")";
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId")
    throw Error(ErrorCode::kPermission, what + ": the server refused the credentials" + suffix +
                                            "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  if (code == "NoSuchBucket")
    throw Error(ErrorCode::kNotFound,
                what + ": bucket '" + bucket_ + "' does not exist" + suffix + "; `lifeboat init` creates it");
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed")
    throw Error(ErrorCode::kInvalidArgument, what + ": the bucket is in another region than '" +
                                                 settings_.region + "'" + suffix + "; set AWS_REGION");
  switch (r.status) {
    case 401:
    case 403:
      // A HEAD's refusal has no body to say why.
      throw Error(ErrorCode::kPermission,
                  what + ": the server refused" + suffix +
                      (code.empty() ? "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a policy or object "
                                      "lock that forbids this"
                                    : " (a policy, object lock, or credentials without this right?)"));
    case 404: throw Error(ErrorCode::kNotFound, what + ": not found" + suffix);
    case 416: throw Error(ErrorCode::kCorrupt, what + ": range past the end" + suffix);
    default: throw Error(ErrorCode::kIo, what + suffix);
  }
}

void S3Backend::create() {
  HttpRequest head = request("HEAD", bucket_path());
  HttpResponse r = http_->perform(head);
  if (r.status == 404) {
    HttpRequest put = request("PUT", bucket_path());
    // Object Lock can only be switched on when a bucket is made.
    if (options_.object_lock_days > 0) put.headers.push_back("x-amz-bucket-object-lock-enabled: true");
    std::string body;
    if (settings_.region != "us-east-1") {
      body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<LocationConstraint>" + settings_.region + "</LocationConstraint></CreateBucketConfiguration>";
      put.headers[0] = "x-amz-content-sha256: " + crypto::sha256(as_bytes(body)).hex();
      put.body = as_bytes(body);
    }
    HttpResponse made = http_->perform(put);
    // 409 BucketAlreadyOwnedByYou: another node made it a moment ago.
    if (made.status != 200 && !(made.status == 409 && error_code(made) == "BucketAlreadyOwnedByYou"))
      fail(put, made, "bucket " + bucket_);
  } else if (r.status != 200) {
    fail(head, r, "bucket " + bucket_);
  }
  if (options_.object_lock_days > 0) std::call_once(object_lock_checked_, [this] { check_bucket_object_lock(); });
  if (size({ObjectType::kConfig, "config"}))
    throw Error(ErrorCode::kAlreadyExists, "a repository already exists at " + shown_);
}

void S3Backend::save(const Handle& h, ByteView data) {
  if (data.size() > options_.multipart_threshold && h.type != ObjectType::kLock) {
    put_multipart(h, data);
  } else {
    put_single(h, data);
  }
}

bool S3Backend::already_saved(const Handle& h, ByteView data, bool content_addressed) {
  const auto existing = size(h);
  if (!existing || *existing != data.size()) return false;
  if (content_addressed) return true;
  const Bytes there = load(h, 0, 0);
  return std::equal(there.begin(), there.end(), data.begin(), data.end());
}

void S3Backend::check_bucket_object_lock() {
  HttpRequest req = request("GET", bucket_path() + "?object-lock=");
  HttpResponse r = http_->perform(req);
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  if (r.status == 200 &&
      std::string_view(doc.child("ObjectLockConfiguration").child_value("ObjectLockEnabled")) == "Enabled")
    return;
  // Credentials that may write but not read the bucket's settings: the
  // server's answer to the first locked write will say what is wrong.
  if (r.status == 403) return;
  if (r.status == 404 || r.status == 200)
    throw Error(ErrorCode::kInvalidArgument,
                "bucket '" + bucket_ + "' of " + shown_ +
                    " does not have Object Lock enabled, so LIFEBOAT_S3_OBJECT_LOCK_DAYS cannot protect "
                    "what is written there; use a bucket created with Object Lock (lifeboat init makes a "
                    "new bucket so when LIFEBOAT_S3_OBJECT_LOCK_DAYS is set) or unset it");
  fail(req, r, "bucket " + bucket_);
}

void S3Backend::add_object_lock(HttpRequest& req, const Handle& h, ByteView body) {
  if (!locks(h)) return;
  std::call_once(object_lock_checked_, [this] { check_bucket_object_lock(); });
  req.headers.push_back("x-amz-object-lock-mode: " + options_.object_lock_mode);
  req.headers.push_back("x-amz-object-lock-retain-until-date: " + retain_until(options_.object_lock_days));
  if (!body.empty()) req.headers.push_back("Content-MD5: " + content_md5(body));
}

void S3Backend::set_retention(const Handle& h, const std::string& version_id) {
  const std::string body = "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>" +
                           options_.object_lock_mode + "</Mode><RetainUntilDate>" +
                           retain_until(options_.object_lock_days) + "</RetainUntilDate></Retention>";
  HttpRequest req = request("PUT", object_path(key_of(h)) + "?retention=" +
                                       (version_id.empty() ? "" : "&versionId=" + uri_encode(version_id, false)));
  req.headers[0] = "x-amz-content-sha256: " + crypto::sha256(as_bytes(body)).hex();
  req.headers.push_back("Content-MD5: " + content_md5(as_bytes(body)));
  req.body = as_bytes(body);
  HttpResponse r = http_->perform(req);
  if (r.status != 200) fail(req, r, h.describe() + " (setting its Object Lock retention)");
}

bool S3Backend::renew_lock(const Handle& h, int64_t at_least_seconds) {
  if (!locks(h)) return false;
  HttpRequest req = request("GET", object_path(key_of(h)) + "?retention=");
  HttpResponse r = http_->perform(req);
  UnixNanos until = 0;  // none: written before the bucket was locked, or by another tool
  if (r.status == 200) {
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    const std::string text = doc.child("Retention").child_value("RetainUntilDate");
    if (!text.empty()) until = parse_rfc3339(text);
  } else if (r.status == 404 && error_code(r) == "NoSuchKey") {
    throw Error(ErrorCode::kNotFound, h.describe() + " is not in " + shown_);
  } else if (r.status != 404) {
    fail(req, r, h.describe() + " (reading its Object Lock retention)");
  }
  if (until >= now_unix_nanos() + at_least_seconds * 1000000000) return false;
  set_retention(h, "");
  return true;
}

void S3Backend::put_single(const Handle& h, ByteView data) {
  HttpRequest req = request("PUT", object_path(key_of(h)));
  const bool content_addressed = options_.content_named && h.type != ObjectType::kConfig &&
                                 h.type != ObjectType::kLock && is_hex64(h.name);
  req.headers[0] = "x-amz-content-sha256: " + (content_addressed ? h.name : crypto::sha256(data).hex());
  if (h.type != ObjectType::kLock) req.headers.push_back("If-None-Match: *");
  // A versioned bucket may take If-None-Match for nothing (S3Backend's
  // contract, Object Lock): ask first.
  if (locks(h) && size(h)) {
    if (already_saved(h, data, content_addressed)) return;
    throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + shown_);
  }
  add_object_lock(req, h, data);
  req.body = data;
  HttpResponse r = http_->perform(req);
  if (r.status == 200) return;
  if (r.status == 412) {
    // Our own, from an attempt whose answer was lost, or there before us.
    // (Attempts cannot tell: libcurl itself resends a request whose reused
    // connection died before an answer.) Same name and size is the same
    // bytes for a content-named object; the config is compared.
    if (already_saved(h, data, content_addressed)) return;
    throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + shown_);
  }
  if (r.status == 400 && error_code(r) == "XAmzContentSHA256Mismatch")
    throw Error(ErrorCode::kCorrupt,
                h.describe() + ": the server found the bytes do not match their " +
                    (content_addressed ? "name (SHA-256)" : "SHA-256") + " in " + std::to_string(r.attempts) +
                    " attempts; not saved in " + shown_ +
                    " (damaged on every attempt on the way, or in this machine's memory: check both)");
  fail(req, r, h.describe());
}

void S3Backend::put_multipart(const Handle& h, ByteView data) {
  // CompleteMultipartUpload is not conditional on every server: ask first.
  const bool content_addressed = options_.content_named && is_hex64(h.name);
  if (size(h)) {
    if (!already_saved(h, data, content_addressed))
      throw Error(ErrorCode::kAlreadyExists, h.describe() + " already exists in " + shown_);
    // Ours from an attempt that failed after completing, maybe before its
    // retention was set (below).
    if (locks(h)) set_retention(h, "");
    return;
  }
  const std::string path = object_path(key_of(h));
  HttpRequest start = request("POST", path + "?uploads=");
  add_object_lock(start, h, {});  // the retention is set when the upload starts
  HttpResponse r = http_->perform(start);
  if (r.status != 200) fail(start, r, h.describe());
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  const std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty())
    throw Error(ErrorCode::kIo, h.describe() + ": " + shown_ + " started a multipart upload without an id");
  const std::string id_query = "uploadId=" + uri_encode(upload_id, false);
  try {
    std::string complete = "<CompleteMultipartUpload>";
    int number = 1;
    for (uint64_t off = 0; off < data.size(); off += options_.part_size, ++number) {
      const ByteView part = data.subspan(off, std::min<uint64_t>(options_.part_size, data.size() - off));
      // Query parameters in sorted order, as the signature's canonical form has them.
      HttpRequest put = request("PUT", path + "?partNumber=" + std::to_string(number) + "&" + id_query);
      put.headers[0] = "x-amz-content-sha256: " + crypto::sha256(part).hex();
      if (locks(h)) put.headers.push_back("Content-MD5: " + content_md5(part));
      put.body = part;
      HttpResponse pr = http_->perform(put);
      if (pr.status != 200) fail(put, pr, h.describe() + " part " + std::to_string(number));
      const std::string etag = pr.header("etag");
      if (etag.empty()) throw Error(ErrorCode::kIo, h.describe() + ": " + shown_ + " gave a part no ETag");
      complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    HttpRequest done = request("POST", path + "?" + id_query);
    done.headers[0] = "x-amz-content-sha256: " + crypto::sha256(as_bytes(complete)).hex();
    done.body = as_bytes(complete);
    HttpResponse dr = http_->perform(done);
    // S3 may answer 200 and put the error in the body (it decided late).
    if (dr.status == 200 && error_code(dr).empty()) {
      if (locks(h)) set_retention(h, dr.header("x-amz-version-id"));
      abort_other_uploads(key_of(h));
      return;
    }
    if ((dr.status == 404 || error_code(dr) == "NoSuchUpload") && already_saved(h, data, content_addressed)) {
      // An earlier attempt completed it and its answer was lost, or another
      // writer of this name (the same bytes) cleaned up after completing.
      if (locks(h)) set_retention(h, "");
      return;
    }
    fail(done, dr, h.describe());
  } catch (...) {
    // Best effort: parts of an abandoned upload cost storage until aborted.
    try {
      HttpRequest abort = request("DELETE", path + "?" + id_query);
      http_->perform(abort);
    } catch (const Error&) {
    }
    throw;
  }
}

void S3Backend::abort_other_uploads(const std::string& key) {
  // A CreateMultipartUpload whose answer was lost leaves an upload nobody
  // will complete; its parts would cost storage unseen. Once the object is
  // complete, any upload still open for its key is such a stray (or another
  // writer's of the same bytes, who then finds the object there).
  try {
    HttpRequest req = request("GET", bucket_path() + "?prefix=" + uri_encode(key, false) + "&uploads=");
    HttpResponse r = http_->perform(req);
    if (r.status != 200) return;
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    for (auto u : doc.child("ListMultipartUploadsResult").children("Upload")) {
      if (std::string_view(u.child_value("Key")) != key) continue;
      HttpRequest abort = request("DELETE", object_path(key) + "?uploadId=" + uri_encode(u.child_value("UploadId"), false));
      http_->perform(abort);
    }
  } catch (const Error&) {
    // Best effort: the object is saved; a stray upload only costs storage.
  }
}

namespace {

// "2026-11-26T10:00:00.000Z" (S3's Initiated) as seconds since the epoch;
// nullopt if it does not parse.
std::optional<int64_t> parse_s3_time(const char* text) {
  std::tm tm{};
  const char* rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

size_t S3Backend::abort_stale_uploads(int64_t older_than_seconds) {
  const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - older_than_seconds;
  const std::string prefix = prefix_.empty() ? "" : prefix_ + "/";
  size_t aborted = 0;
  std::string key_marker, id_marker;
  for (;;) {
    std::string query = "?prefix=" + uri_encode(prefix, false) + "&uploads=";
    if (!key_marker.empty())
      query += "&key-marker=" + uri_encode(key_marker, false) + "&upload-id-marker=" + uri_encode(id_marker, false);
    HttpRequest req = request("GET", bucket_path() + query);
    HttpResponse r = http_->perform(req);
    if (r.status != 200) fail(req, r, "the multipart uploads of " + shown_);
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    auto result = doc.child("ListMultipartUploadsResult");
    for (auto u : result.children("Upload")) {
      auto started = parse_s3_time(u.child_value("Initiated"));
      if (!started || *started > cutoff) continue;
      HttpRequest abort =
          request("DELETE", object_path(u.child_value("Key")) + "?uploadId=" + uri_encode(u.child_value("UploadId"), false));
      HttpResponse ar = http_->perform(abort);
      if (ar.status == 204 || ar.status == 200 || ar.status == 404) ++aborted;
      else fail(abort, ar, std::string("the multipart upload of ") + u.child_value("Key"));
    }
    if (std::string_view(result.child_value("IsTruncated")) != "true") break;
    key_marker = result.child_value("NextKeyMarker");
    id_marker = result.child_value("NextUploadIdMarker");
    if (key_marker.empty()) break;
  }
  return aborted;
}

Bytes S3Backend::load(const Handle& h, uint64_t offset, uint64_t length) {
  return http_->load(
      request("GET", object_path(key_of(h))), h.describe(), offset, length, [&] { return size(h); },
      [&](const HttpRequest& req, const HttpResponse& r) { fail(req, r, h.describe()); });
}

std::optional<uint64_t> S3Backend::size(const Handle& h) {
  HttpRequest req = request("HEAD", object_path(key_of(h)));
  HttpResponse r = http_->perform(req);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(req, r, h.describe());
  if (!r.content_length) throw Error(ErrorCode::kIo, "HEAD " + shown_ + req.path + ": no Content-Length");
  return r.content_length;
}

void S3Backend::remove(const Handle& h) {
  HttpRequest req = request("DELETE", object_path(key_of(h)));
  HttpResponse r = http_->perform(req);
  if (r.status == 200 || r.status == 204 || r.status == 404) return;
  fail(req, r, h.describe());
}

void S3Backend::list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) {
  if (type == ObjectType::kConfig) {
    if (auto s = size({ObjectType::kConfig, "config"})) fn("config", *s);
    return;
  }
  const std::string dir = (prefix_.empty() ? "" : prefix_ + "/") + object_type_dir(type) + "/";
  std::vector<std::pair<std::string, uint64_t>> items;
  std::string token;
  do {
    // Query parameters sorted and fully encoded: the canonical form libcurl
    // signs is the query as given.
    std::string query = "?";
    if (!token.empty()) query += "continuation-token=" + uri_encode(token, false) + "&";
    query += "list-type=2";
    if (options_.list_page_size != 1000) query += "&max-keys=" + std::to_string(options_.list_page_size);
    query += "&prefix=" + uri_encode(dir, false);
    HttpRequest req = request("GET", bucket_path() + query);
    HttpResponse r = http_->perform(req);
    if (r.status != 200) fail(req, r);
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size()))
      throw Error(ErrorCode::kIo, "GET " + shown_ + ": not an S3 listing; is this an S3 endpoint?");
    const auto result = doc.child("ListBucketResult");
    for (auto c : result.children("Contents")) {
      std::string_view key = c.child_value("Key");
      key.remove_prefix(std::min(key.size(), dir.size()));
      if (type == ObjectType::kData) {  // "ab/<name>"
        const auto s = key.find('/');
        if (s == std::string_view::npos) continue;
        key.remove_prefix(s + 1);
      }
      if (key.empty() || key[0] == '.' || key.find('/') != std::string_view::npos) continue;
      items.emplace_back(std::string(key), std::strtoull(c.child_value("Size"), nullptr, 10));
    }
    token = std::string_view(result.child_value("IsTruncated")) == "true"
                ? result.child_value("NextContinuationToken")
                : "";
  } while (!token.empty());
  // The callback may use the backend (the listing is complete first).
  for (const auto& [name, sz] : items) fn(name, sz);
}

}  // namespace lifeboat::backend
