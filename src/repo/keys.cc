#include "repo/keys.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/hex.h"
#include "crypto/aead.h"
#include "crypto/random.h"

namespace lifeboat::repo {

namespace {
constexpr std::string_view kWrapAad = "lifeboat key v1";
constexpr size_t kMasterSize = 96;
}  // namespace

MasterKeys MasterKeys::generate() {
  MasterKeys k;
  crypto::random_bytes(k.encryption);
  crypto::random_bytes(k.id);
  crypto::random_bytes(k.chunker);
  return k;
}

Bytes make_key_file(const MasterKeys& keys, std::string_view password,
                    const crypto::KdfParams& params, const KeyFileInfo& info) {
  Bytes salt = crypto::random_bytes(crypto::kKdfSaltSize);
  crypto::Key32 wrap_key = crypto::derive_key(password, salt, params);

  Bytes plain;
  append(plain, keys.encryption);
  append(plain, keys.id);
  append(plain, keys.chunker);
  Bytes sealed;
  // The wrapping key is unique to this file (fresh salt), so nonce 0 is used once.
  crypto::Aead(wrap_key).seal(crypto::counter_nonce(0), plain, as_bytes(kWrapAad), sealed);

  nlohmann::ordered_json j;
  j["version"] = 1;
  j["kdf"] = "argon2id";
  j["ops_limit"] = params.ops_limit;
  j["mem_limit"] = params.mem_limit;
  j["salt"] = to_hex(salt);
  j["data"] = to_hex(sealed);
  j["hostname"] = info.hostname;
  j["username"] = info.username;
  j["label"] = info.label;
  j["created"] = format_rfc3339(info.created ? info.created : now_unix_nanos());
  std::string text = j.dump(2) + "\n";
  return Bytes(text.begin(), text.end());
}

namespace {
nlohmann::json parse_json(ByteView file, const std::string& what) {
  try {
    auto j = nlohmann::json::parse(as_chars(file));
    if (!j.is_object() || j.value("version", 0) != 1)
      throw Error(ErrorCode::kCorrupt, what + " is not a lifeboat v1 key file");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, what + " is damaged (" + e.what() + ")");
  }
}
}  // namespace

KeyFileInfo parse_key_file_info(ByteView file, std::string name) {
  auto j = parse_json(file, "key file keys/" + name);
  KeyFileInfo info;
  info.name = std::move(name);
  try {
    info.hostname = j.value("hostname", "");
    info.username = j.value("username", "");
    info.label = j.value("label", "");
    info.created = parse_rfc3339(j.value("created", "1970-01-01T00:00:00Z"));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorrupt, "key file keys/" + info.name + " is damaged (" + e.what() + ")");
  }
  return info;
}

bool unwrap_key_file(ByteView file, std::string_view password, MasterKeys& out) {
  auto j = parse_json(file, "key file");
  std::optional<Bytes> salt, data;
  crypto::KdfParams params;
  try {
    if (j.at("kdf").get<std::string>() != "argon2id")
      throw Error(ErrorCode::kCorrupt, "key file uses an unknown kdf");
    params.ops_limit = j.at("ops_limit").get<uint64_t>();
    params.mem_limit = j.at("mem_limit").get<uint64_t>();
    salt = from_hex(j.at("salt").get<std::string>());
    data = from_hex(j.at("data").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, std::string("key file is damaged (") + e.what() + ")");
  }
  // Bounds keep a damaged or hostile key file from asking for absurd memory.
  if (!salt || !data || salt->size() != crypto::kKdfSaltSize ||
      data->size() != kMasterSize + crypto::kTagSize || params.ops_limit > 64 ||
      params.mem_limit > (4ull << 30))
    throw Error(ErrorCode::kCorrupt, "key file is damaged (bad fields)");
  crypto::Key32 wrap_key = crypto::derive_key(password, *salt, params);
  Bytes plain;
  if (!crypto::Aead(wrap_key).open(crypto::counter_nonce(0), *data, as_bytes(kWrapAad), plain))
    return false;
  std::copy(plain.begin(), plain.begin() + 32, out.encryption.begin());
  std::copy(plain.begin() + 32, plain.begin() + 64, out.id.begin());
  std::copy(plain.begin() + 64, plain.begin() + 96, out.chunker.begin());
  return true;
}

std::string save_key_file(backend::Backend& backend, const Bytes& file) {
  std::string name = crypto::sha256(file).hex();
  backend.save({backend::ObjectType::kKey, name}, file);
  return name;
}

}  // namespace lifeboat::repo
