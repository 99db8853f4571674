// The storage interface every repository location implements (local
// directory, memory for tests, REST, S3, SFTP), plus the one module
// that owns object naming and sharding.
//
// Contract, for every implementation:
// - save() is atomic and durable: when it returns, the object is complete
//   and survives a crash; a reader never sees a partial object (absent or
//   complete). Objects are create-only (law 1): saving a name that exists
//   throws Error(kAlreadyExists) — except ObjectType::kLock, which may be
//   replaced. A remote backend may instead report saved when the object
//   there is these very bytes: it cannot tell that from its own earlier
//   attempt whose answer was lost.
// - load() reads what save() wrote (read-after-write). A missing object
//   throws Error(kNotFound); a range past the end throws Error(kCorrupt).
// - Transient failures throw Error(kUnavailable) (retryable); everything
//   else is permanent.
// - All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace lifeboat::backend {

enum class ObjectType : uint8_t { kConfig, kKey, kData, kIndex, kSnapshot, kLock };

// "config", "keys", "data", "index", "snapshots", "locks".
const char* object_type_dir(ObjectType type);

struct Handle {
  ObjectType type;
  std::string name;  // for kConfig: "config"; otherwise usually 64 hex digits
  // Path relative to the repository root: "config", "keys/<name>",
  // "data/<first 2 chars>/<name>", "index/<name>", ...
  // Throws Error(kInvalidArgument) for a name no backend can store safely:
  // empty, containing '/' or NUL, starting with '.' (reserved for temporary
  // files), or, for kData, not starting with two lowercase hex digits (the
  // 256 shard directories). The name of kConfig is ignored.
  std::string path() const;
  std::string describe() const { return path(); }
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Human-readable location for messages ("/backups/r", "rest:http://...").
  virtual std::string location() const = 0;

  // Creates an empty repository layout (directories, where the medium has
  // them). Throws Error(kAlreadyExists) if a config object exists.
  virtual void create() = 0;

  virtual void save(const Handle& h, ByteView data) = 0;

  // Reads `length` bytes at `offset`; length 0 means "to the end".
  virtual Bytes load(const Handle& h, uint64_t offset = 0, uint64_t length = 0) = 0;

  // Size of the object, or nullopt if it does not exist.
  virtual std::optional<uint64_t> size(const Handle& h) = 0;

  // Removes the object; removing a missing object is not an error.
  virtual void remove(const Handle& h) = 0;

  // Calls fn(name, size) for every object of the type, in no given order.
  virtual void list(ObjectType type,
                    const std::function<void(std::string_view name, uint64_t size)>& fn) = 0;
  // Abandons uploads that were started more than `older_than_seconds` ago
  // and never completed (S3 multipart uploads of a killed writer: their
  // parts cost storage and are listed nowhere else). Returns how many; 0
  // where the medium has no such thing. Called by prune.
  virtual size_t abort_stale_uploads(int64_t older_than_seconds) { return 0; }

  // Retention locks (S3 Object Lock): how long what is written stays
  // undeletable, in seconds; 0 where nothing is locked.
  virtual int64_t lock_period_seconds() const { return 0; }
  // Makes sure `h` stays locked at least `at_least_seconds` more: if its
  // retention ends sooner (or it has none), it is set to now + the lock
  // period. Returns whether it was changed. Retention counts from an
  // object's upload, and a pack written long ago may still hold what
  // today's snapshots need: prune renews what stays. Throws kNotFound if
  // `h` is not there.
  virtual bool renew_lock(const Handle& h, int64_t at_least_seconds) { return false; }
};

// Opens a repository location given on the command line: a plain path is a
// local directory (relative paths are made absolute); "rest:", "s3:" and
// "sftp:" locations are remote (see each backend's header for its URL form
// and credentials). "mem:" is for tests only and, like an unknown scheme,
// throws Error(kInvalidArgument). A local directory whose name looks like a
// scheme is written "./name:...".
std::unique_ptr<Backend> open_backend(const std::string& location);

}  // namespace lifeboat::backend
