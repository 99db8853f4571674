// A repository in a local directory: the embedded default.
//
// Layout (restic's): config, keys/, data/00..ff/, index/, snapshots/, locks/.
//
// Durability: every save writes a temporary file (".tmp-<random hex>") in the
// target directory, fsyncs it, renames it into place (link(2) so an existing
// name is never replaced; locks are rename(2)d over the old one), and fsyncs
// the directory. A failed save leaves neither the object nor the temporary
// file; list() ignores names starting with '.'. Reads use pread on an fd per
// call. No state besides the root: thread-safe, and several processes may
// share one directory.
//
// create() makes the directory (and its parents) if needed; it refuses a
// directory that holds a config (kAlreadyExists) or anything but the layout,
// hidden files and lost+found (kAlreadyExists: "not empty").
#pragma once

#include <string>
#include <string_view>

#include "backend/backend.h"

namespace lifeboat::backend {

class LocalBackend : public Backend {
 public:
  explicit LocalBackend(std::string root);

  std::string location() const override { return root_; }
  void create() override;
  void save(const Handle& h, ByteView data) override;
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override;
  std::optional<uint64_t> size(const Handle& h) override;
  void remove(const Handle& h) override;
  void list(ObjectType type,
            const std::function<void(std::string_view, uint64_t)>& fn) override;

 private:
  std::string full_path(const Handle& h) const;
  std::string dir_path(std::string_view rel) const;  // root_ + "/" + rel
  std::string root_;
};

}  // namespace lifeboat::backend
