// Who may use `lifeboat serve`, and where: one credential a line,
//   name:path:role:hash
// `path` is the one repository the credential reaches (relative to the
// served root, e.g. "nodes/web209"); `role` is "append" (create and read
// only: a node's own backups) or "admin" (may also delete: prune runs with
// it); `hash` is an Argon2id password hash (libsodium's crypto_pwhash_str).
// Lines starting with '#' and blank lines are ignored.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lifeboat::serve {

enum class Role { kAppend, kAdmin };

struct Credential {
  std::string name;
  std::string path;
  Role role = Role::kAppend;
  std::string hash;
};

class Credentials {
 public:
  // Throws Error(kInvalidArgument) naming the file and line of a bad entry.
  static Credentials load(const std::string& file);
  // The line for a new credential (hashes `password`; ~0.1 s by design).
  static std::string make_line(const std::string& name, const std::string& path, Role role,
                               const std::string& password);

  // The credential `name` whose password is `password`, if any. A password
  // verified once is remembered (by a keyed digest, never in clear) so the
  // slow hash runs once per credential, not once per request.
  std::optional<Credential> authenticate(const std::string& name, const std::string& password);
  size_t size() const { return by_name_.size(); }

 private:
  std::map<std::string, Credential> by_name_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();  // movable
  std::map<std::string, std::string> verified_;  // name -> digest of the password that verified
  std::string digest_key_;                        // random, per process
};

}  // namespace lifeboat::serve
