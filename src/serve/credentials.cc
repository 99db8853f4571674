#include "serve/credentials.h"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "base/error.h"

namespace lifeboat::serve {

namespace {

std::string digest(const std::string& key, const std::string& name, const std::string& password) {
  unsigned char out[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size(), sizeof out);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(name.data()), name.size() + 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(password.data()), password.size());
  crypto_generichash_final(&st, out, sizeof out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

bool valid_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (part.empty() || part[0] == '.') return false;
  return path.find(':') == std::string::npos;
}

}  // namespace

Credentials Credentials::load(const std::string& file) {
  if (sodium_init() < 0) throw Error(ErrorCode::kInternal, "libsodium did not initialize");
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kInvalidArgument, "cannot read credentials file " + file);
  Credentials c;
  c.digest_key_.resize(32);
  randombytes_buf(c.digest_key_.data(), c.digest_key_.size());
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::kInvalidArgument,
                   "credentials file " + file + " line " + std::to_string(n) + ": " + why +
                       " (want name:path:append|admin:hash; 'lifeboat serve add-credential' writes one)");
    };
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      auto colon = line.find(':', start);
      if (colon == std::string::npos) throw bad("too few fields");
      f.push_back(line.substr(start, colon - start));
      start = colon + 1;
    }
    f.push_back(line.substr(start));
    Credential cred{f[0], f[1], Role::kAppend, f[3]};
    if (cred.name.empty()) throw bad("empty name");
    if (!valid_path(cred.path)) throw bad("path '" + cred.path + "' is not a relative path without '.' parts");
    if (f[2] == "admin") cred.role = Role::kAdmin;
    else if (f[2] != "append") throw bad("role '" + f[2] + "' is neither append nor admin");
    if (cred.hash.rfind("$argon2id$", 0) != 0) throw bad("the hash is not an Argon2id hash");
    if (!c.by_name_.emplace(cred.name, cred).second) throw bad("name '" + cred.name + "' appears twice");
  }
  return c;
}

std::string Credentials::make_line(const std::string& name, const std::string& path, Role role,
                                   const std::string& password) {
  if (sodium_init() < 0) throw Error(ErrorCode::kInternal, "libsodium did not initialize");
  if (name.empty() || name.find(':') != std::string::npos)
    throw Error(ErrorCode::kInvalidArgument, "credential name '" + name + "' must be non-empty, without ':'");
  if (!valid_path(path))
    throw Error(ErrorCode::kInvalidArgument,
                "repository path '" + path + "' must be relative, without ':' or '.' parts");
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw Error(ErrorCode::kInternal, "out of memory hashing the password");
  return name + ":" + path + ":" + (role == Role::kAdmin ? "admin" : "append") + ":" + hash;
}

std::optional<Credential> Credentials::authenticate(const std::string& name, const std::string& password) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  const std::string d = digest(digest_key_, name, password);
  {
    std::lock_guard lock(*mu_);
    auto v = verified_.find(name);
    if (v != verified_.end() && sodium_memcmp(v->second.data(), d.data(), d.size()) == 0) return it->second;
  }
  if (crypto_pwhash_str_verify(it->second.hash.c_str(), password.data(), password.size()) != 0)
    return std::nullopt;
  std::lock_guard lock(*mu_);
  verified_[name] = d;
  return it->second;
}

}  // namespace lifeboat::serve
