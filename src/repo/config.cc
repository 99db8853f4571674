#include "repo/config.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/hex.h"
#include "crypto/random.h"
#include "repo/sealed.h"

namespace lifeboat::repo {

Config Config::make_new() {
  Config c;
  c.id = to_hex(crypto::random_bytes(32));
  return c;
}

Bytes encode_config(const crypto::Key32& encryption_key, const Config& c) {
  nlohmann::ordered_json j;
  j["version"] = c.version;
  j["id"] = c.id;
  j["chunker"] = {{"algorithm", "fastcdc-gear-v1"},
                  {"min_size", c.chunker.min_size},
                  {"avg_size", c.chunker.avg_size},
                  {"max_size", c.chunker.max_size}};
  j["pack_size"] = c.pack_size;
  j["compression"] = {{"algorithm", "zstd"}, {"level", c.compression_level}};
  return seal_object(encryption_key, "config", as_bytes(j.dump()));
}

Config decode_config(const crypto::Key32& encryption_key, ByteView sealed) {
  Bytes plain;
  try {
    plain = open_object(encryption_key, "config", sealed, "repository config");
  } catch (const Error& e) {
    throw Error(ErrorCode::kCorrupt, "repository config is damaged (it does not authenticate)");
  }
  try {
    auto j = nlohmann::json::parse(as_chars(plain));
    Config c;
    c.version = j.at("version").get<int>();
    if (c.version != 1)
      // Not damage: a newer format (Repository::open reads on with defaults
      // only when the config is damaged).
      throw Error(ErrorCode::kNotARepository,
                  "repository format version " + std::to_string(c.version) +
                      " is not supported by this lifeboat; upgrade lifeboat");
    c.id = j.at("id").get<std::string>();
    auto& ch = j.at("chunker");
    if (ch.at("algorithm").get<std::string>() != "fastcdc-gear-v1")
      throw Error(ErrorCode::kNotARepository,
                  "repository uses an unknown chunker; upgrade lifeboat");
    c.chunker.min_size = ch.at("min_size").get<uint32_t>();
    c.chunker.avg_size = ch.at("avg_size").get<uint32_t>();
    c.chunker.max_size = ch.at("max_size").get<uint32_t>();
    c.pack_size = j.at("pack_size").get<uint32_t>();
    c.compression_level = j.at("compression").at("level").get<int>();
    // Offsets and lengths in packs are 32-bit, raw blob lengths 30-bit.
    if (c.chunker.max_size > (64u << 20) || c.pack_size > (1u << 30) || c.pack_size < (64u << 10))
      throw Error(ErrorCode::kCorrupt, "repository config has out-of-range sizes");
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, std::string("repository config is damaged (") + e.what() + ")");
  }
}

}  // namespace lifeboat::repo
