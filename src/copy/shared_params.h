// Tiers that deduplicate against each other: a repository created with the
// chunking parameters, id key and chunker key of another one (`lifeboat init
// --copy-params-from`), so the same file content becomes the same chunks with
// the same blob ids in both, and `copy` moves blobs and trees as they are.
//
// What is shared and what is not:
// - shared: MasterKeys::id (blob ids), MasterKeys::chunker (gear table), and
//   the config's chunker parameters, pack size and compression level;
// - fresh: MasterKeys::encryption, the config id, and the key file (its own
//   password): a stolen offsite key file and its password open that tier
//   only, never the one it was copied from.
#pragma once

#include <string_view>

#include "backend/backend.h"
#include "crypto/kdf.h"
#include "repo/repository.h"

namespace lifeboat::copy {

// Creates a repository in `backend` sharing `other`'s id key, chunker key
// and chunking settings, with a fresh encryption key. Throws kAlreadyExists
// if `backend` holds a repository, kCorrupt if `other`'s config is damaged
// (its chunking settings would be guessed). Returns the new config.
repo::Config init_sharing_params(backend::Backend& backend, std::string_view password,
                                 const crypto::KdfParams& kdf, const repo::KeyFileInfo& key_info,
                                 const repo::Repository& other);

// Blob ids name blobs inside trees, so a copy moves trees as they are only
// between repositories whose ids agree. Throws kInvalidArgument naming both
// locations (and how to create a fitting destination) when the id keys
// differ, or when `src` and `dst` are the same repository.
void require_shared_ids(const repo::Repository& src, const repo::Repository& dst);

// True when chunking in `a` and `b` cuts the same content at the same places
// (chunker key and parameters equal): new backups into either deduplicate
// against copies. Copying works without it.
bool same_chunking(const repo::Repository& a, const repo::Repository& b);

}  // namespace lifeboat::copy
