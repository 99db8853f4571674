// A fresh repository in memory (cheap test KDF), for tests above the
// storage layer. Header-only: the support library does not link repo/.
#pragma once

#include <memory>

#include "backend/mem_backend.h"
#include "repo/repository.h"

namespace lifeboat::test {

struct MemRepo {
  std::shared_ptr<backend::MemBackend> be = std::make_shared<backend::MemBackend>();
  std::unique_ptr<repo::Repository> repo;
  MemRepo() {
    repo::Repository::init(*be, "pw", crypto::KdfParams::for_tests(), {});
    repo = repo::Repository::open(be, "pw");
  }
};

}  // namespace lifeboat::test
