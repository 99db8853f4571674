// A repository in a local directory: the embedded default.
//
// Durability: every save writes a temporary file in the target directory,
// fsyncs it, renames it into place (link(2) so an existing name is never
// replaced), and fsyncs the directory. Reads use pread on an fd per call.
#pragma once

#include <string>

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
  std::string root_;
};

}  // namespace lifeboat::backend
