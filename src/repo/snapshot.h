// Snapshots: one sealed JSON object per backup (FORMAT.md "Snapshots").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/id.h"
#include "crypto/mac.h"

namespace lifeboat::repo {

struct SnapshotSummary {
  UnixNanos started = 0;
  UnixNanos finished = 0;
  uint64_t files_new = 0;
  uint64_t files_changed = 0;
  uint64_t files_unmodified = 0;
  uint64_t dirs = 0;
  uint64_t other_entries = 0;     // symlinks, devices, fifos, sockets
  uint64_t bytes_total = 0;       // content bytes of all files in the snapshot
  uint64_t bytes_read = 0;        // bytes actually read from disk
  uint64_t blobs_added = 0;
  uint64_t bytes_added = 0;       // plaintext bytes of new blobs
  uint64_t bytes_stored = 0;      // blob bytes written (compressed and encrypted)
  uint64_t errors = 0;            // entries that could not be read fully
};

struct Snapshot {
  UnixNanos time = 0;
  std::string node;
  std::string account;
  std::string hostname;
  std::string username;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  Id tree;
  std::optional<Id> parent;
  bool partial = false;             // some entries could not be read (see summary.errors)
  std::vector<std::string> error_paths;  // the first few such entries, for reports
  SnapshotSummary summary;
  std::string program_version;
};

// The summary as JSON fields (shared by the stored format and CLI reports).
nlohmann::ordered_json summary_to_json(const SnapshotSummary& m);

std::string snapshot_to_json(const Snapshot& s);  // plain JSON (inside the sealed object)
Snapshot snapshot_from_json(std::string_view text, const std::string& what);

Bytes encode_snapshot(const crypto::Key32& encryption_key, const Snapshot& s);
Snapshot decode_snapshot(const crypto::Key32& encryption_key, ByteView sealed,
                         const std::string& name);

}  // namespace lifeboat::repo
