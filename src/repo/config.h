// The repository config: one sealed object named "config" (FORMAT.md "Config").
// Written once by init and never changed (law 1).
#pragma once

#include <string>

#include "base/bytes.h"
#include "chunk/chunker.h"
#include "crypto/mac.h"

namespace lifeboat::repo {

struct Config {
  int version = 1;
  std::string id;                     // 64 hex digits, random
  chunk::ChunkerParams chunker;
  uint32_t pack_size = 16u << 20;     // target pack size in bytes
  int compression_level = 3;          // zstd level for data blobs; 0 = off

  static Config make_new();
};

Bytes encode_config(const crypto::Key32& encryption_key, const Config& config);
// Throws Error(kCorrupt) naming the config object when it does not decode.
Config decode_config(const crypto::Key32& encryption_key, ByteView sealed);

}  // namespace lifeboat::repo
