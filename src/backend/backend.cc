#include "backend/backend.h"

#include <filesystem>

#include "backend/local_backend.h"
#include "backend/rest_backend.h"
#include "backend/s3_backend.h"
#include "backend/sftp_backend.h"

namespace lifeboat::backend {

namespace {

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The scheme of "scheme:rest" (RFC 3986 letters), or "" for a plain path.
// Anything with a '/' before the first ':' is a path ("./a:b", "/x/y:z").
std::string_view scheme_of(std::string_view location) {
  if (location.empty() || !is_alpha(location[0])) return {};
  for (size_t i = 1; i < location.size(); ++i) {
    char c = location[i];
    if (c == ':') return location.substr(0, i);
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return {};
  }
  return {};
}

}  // namespace

const char* object_type_dir(ObjectType type) {
  switch (type) {
    case ObjectType::kConfig: return "config";
    case ObjectType::kKey: return "keys";
    case ObjectType::kData: return "data";
    case ObjectType::kIndex: return "index";
    case ObjectType::kSnapshot: return "snapshots";
    case ObjectType::kLock: return "locks";
  }
  throw Error(ErrorCode::kInternal, "unknown object type " + std::to_string(static_cast<int>(type)));
}

std::string Handle::path() const {
  if (type == ObjectType::kConfig) return "config";
  std::string_view dir = object_type_dir(type);
  auto invalid = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid object name '" + name + "' in " + std::string(dir) + "/: " +
                     std::string(why));
  };
  if (name.empty()) throw invalid("empty name");
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
    throw invalid("contains '/' or NUL");
  }
  if (name[0] == '.') throw invalid("names starting with '.' are reserved");
  if (type == ObjectType::kData) {
    if (name.size() < 2 || !is_lower_hex(name[0]) || !is_lower_hex(name[1])) {
      throw invalid("data object names start with two lowercase hex digits");
    }
    std::string p;
    p.reserve(dir.size() + 4 + name.size());
    p.append(dir).append("/").append(name, 0, 2).append("/").append(name);
    return p;
  }
  return std::string(dir) + "/" + name;
}

std::unique_ptr<Backend> open_backend(const std::string& location) {
  if (location.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "empty repository location: give a local path with --repo");
  }
  std::string_view scheme = scheme_of(location);
  if (scheme.empty()) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(location, ec);
    return std::make_unique<LocalBackend>(ec ? location : abs.string());
  }
  std::string why;
  if (scheme == "mem") {
    why = "the in-memory backend exists only for tests; use a local path";
  } else if (scheme == "rest") {
    return std::make_unique<RestBackend>(location.substr(5));
  } else if (scheme == "s3") {
    return std::make_unique<S3Backend>(location.substr(3), S3Settings::from_environment(),
                                       S3Options::from_environment());
  } else if (scheme == "sftp") {
    return std::make_unique<SftpBackend>(location.substr(5));
  } else {
    why = "unknown scheme '" + std::string(scheme) +
          "'; use a local path, rest:, s3: or sftp: (write './" + location +
          "' for a local directory whose name contains ':')";
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unsupported repository location '" + location + "': " + why);
}

}  // namespace lifeboat::backend
