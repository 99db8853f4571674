// Master keys and the key files that wrap them (docs/FORMAT.md "Keys").
//
// A repository has one set of master keys, chosen at random by init. Each
// key file (keys/<sha256 of file>) wraps that set under a key derived from a
// passphrase with Argon2id, so several passphrases (one per node, one for the
// offsite copy job) open the same repository and any one can be revoked.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"
#include "base/clock.h"
#include "crypto/kdf.h"
#include "crypto/mac.h"

namespace lifeboat::repo {

struct MasterKeys {
  crypto::Key32 encryption{};  // AES-256-GCM object and pack subkeys derive from it
  crypto::Key32 id{};          // HMAC-SHA-256 key of blob ids
  crypto::Key32 chunker{};     // derives the chunker's gear table

  static MasterKeys generate();
};

struct KeyFileInfo {
  std::string name;  // object name under keys/
  std::string hostname;
  std::string username;
  std::string label;
  UnixNanos created = 0;
};

// Serializes a new key file for `keys` under `password`.
Bytes make_key_file(const MasterKeys& keys, std::string_view password,
                    const crypto::KdfParams& params, const KeyFileInfo& info);

// Parses metadata of a key file without the password. Throws kCorrupt.
KeyFileInfo parse_key_file_info(ByteView file, std::string name);

// Unwraps the master keys. Returns false if the password is wrong; throws
// Error(kCorrupt) if the file is not a key file.
bool unwrap_key_file(ByteView file, std::string_view password, MasterKeys& out);

// Stores a key file and returns its name.
std::string save_key_file(backend::Backend& backend, const Bytes& file);

}  // namespace lifeboat::repo
