// What a pack says it holds: its footer and encrypted trailer, read from the
// backend. Law 3 rests on this: the packs are the truth and the index is a
// cache rebuilt from them (Repository::index_unlisted_packs, `repair index`,
// `check`).
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "base/bytes.h"
#include "base/id.h"
#include "crypto/aead.h"
#include "repo/index.h"

namespace lifeboat::repo {

// Reads pack `pack` (of `size` bytes) and returns its salt and entries,
// sorted by offset. `tail`, if given, holds the pack's last bytes already
// loaded; otherwise the last `guess` bytes are read in one request (and the
// trailer in a second one if it is longer). Throws Error(kCorrupt) naming
// the pack if its footer or trailer does not verify, and passes backend
// errors (kNotFound for a pack that is gone) through.
PackInfo read_pack_trailer(backend::Backend& backend, const crypto::Key32& encryption_key,
                           const Id& pack, uint64_t size, ByteView tail = {},
                           uint64_t guess = 16u << 10);

}  // namespace lifeboat::repo
