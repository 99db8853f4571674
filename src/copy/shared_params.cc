#include "copy/shared_params.h"

#include "base/error.h"

namespace lifeboat::copy {

repo::Config init_sharing_params(backend::Backend& backend, std::string_view password,
                                 const crypto::KdfParams& kdf, const repo::KeyFileInfo& key_info,
                                 const repo::Repository& other) {
  other.require_intact_config();
  repo::MasterKeys keys = repo::MasterKeys::generate();  // fresh encryption key
  keys.id = other.keys().id;
  keys.chunker = other.keys().chunker;
  repo::Config config = repo::Config::make_new();  // fresh repository id
  config.chunker = other.config().chunker;
  config.pack_size = other.config().pack_size;
  config.compression_level = other.config().compression_level;
  repo::Repository::init(backend, password, kdf, key_info, config, keys);
  return config;
}

void require_shared_ids(const repo::Repository& src, const repo::Repository& dst) {
  if (src.config().id == dst.config().id && src.keys().encryption == dst.keys().encryption)
    throw Error(ErrorCode::kInvalidArgument,
                "source and destination are the same repository (" + src.location() +
                    "); give --to another one");
  if (src.keys().id != dst.keys().id)
    throw Error(ErrorCode::kInvalidArgument,
                "cannot copy from " + src.location() + " to " + dst.location() +
                    ": their blob id keys differ, so trees would have to be rewritten; create "
                    "the destination with `lifeboat init --copy-params-from " + src.location() +
                    "`");
}

bool same_chunking(const repo::Repository& a, const repo::Repository& b) {
  const auto& ca = a.config().chunker;
  const auto& cb = b.config().chunker;
  return a.keys().chunker == b.keys().chunker && ca.min_size == cb.min_size &&
         ca.avg_size == cb.avg_size && ca.max_size == cb.max_size;
}

}  // namespace lifeboat::copy
