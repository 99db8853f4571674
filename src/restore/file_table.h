// The regular files of one restore while their content lands.
//
// A file is created (O_CREAT|O_TRUNC, relative to its parent directory) by
// its first write, not before, and truncated to its final size right away
// if it has holes or several parts, so holes stay holes. When its last
// expected part is written, its metadata is applied through the open
// descriptor and it is closed. Descriptors are bounded: at most `max_open`
// files are open at once (plus one per thread writing at that instant); an
// idle file is closed (least recently used first) to make room and reopened
// without truncation when its next part arrives.
//
// Thread-safe: any number of threads may write parts of any files at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "fs/metadata.h"
#include "repo/tree.h"
#include "restore/dir_table.h"
#include "restore/reporter.h"

namespace lifeboat::restore {

// What the metadata pass needs of a regular file: a restore holds one per
// file until the file is done, and a full repo::Node is ~300 bytes.
struct FileMeta {
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<repo::Xattr> xattrs;

  static FileMeta of(repo::Node&& node);
  repo::Node to_node() const;
};

struct PlannedFile {
  uint32_t dir = 0;
  std::string name;
  FileMeta meta;
  // Holes or several parts: truncated to size when created, and parts that
  // are all zero bytes are not written (they stay holes too).
  bool sparse = false;
  // Already complete in the target (a resumed restore found it with its
  // final size and modification time, which are set only once a file's
  // content is complete): neither written nor touched again.
  bool present = false;
};

class FileTable {
 public:
  FileTable(std::vector<PlannedFile> files, const DirTable& dirs, DirFds& dir_fds,
            Reporter& reporter, fs::ApplyOptions apply, size_t max_open);
  ~FileTable();  // closes whatever is still open (an aborted run)
  FileTable(const FileTable&) = delete;
  FileTable& operator=(const FileTable&) = delete;

  // A batch: file f belongs to item group[f], whose reporter counts its
  // errors and progress. Without groups everything goes to the reporter
  // given above. Call before content starts.
  void set_groups(std::vector<uint32_t> group, std::vector<Reporter*> reporters);
  // Called exactly once per file when nothing more will happen to it
  // (complete, or given up), from whichever thread finished it; not called
  // once the run is aborted.
  void set_on_complete(std::function<void(uint32_t f)> fn) { on_complete_ = std::move(fn); }

  size_t size() const { return files_.size(); }
  const PlannedFile& file(uint32_t f) const { return files_[f]; }
  std::string path(uint32_t f) const { return dirs_.path(files_[f].dir, files_[f].name); }

  // Before content starts: how many parts file `f` waits for.
  void expect_parts(uint32_t f, uint32_t parts);
  uint32_t expected_parts(uint32_t f) const { return slots_[f].parts; }

  // Writes one part of file `f` at `offset`; an all-zero part of a sparse
  // file is skipped. The file's last part applies its metadata and closes
  // it. A full disk stops the run (Reporter::fatal); other failures are
  // reported for this file only.
  void write_part(uint32_t f, uint64_t offset, ByteView data, bool all_zero);
  // Counts a part that could not be restored; the file is reported with
  // `message` and stays incomplete (its size and metadata are still set).
  void fail_part(uint32_t f, const std::string& message);
  // Reports file `f` as incomplete before any content is fetched.
  void mark_failed(uint32_t f, const std::string& message);
  // Creates a file that waits for no parts (empty, all holes, or nothing of
  // it could be found), with its size and metadata.
  void finish_without_content(uint32_t f);

  // Whether file `f` exists in the target (for hard links to it).
  bool created(uint32_t f) const;
  bool failed(uint32_t f) const { return slots_[f].failed.load(); }
  size_t open_files() const;
  size_t max_open_seen() const;

 private:
  struct Slot {
    int fd = -1;           // guarded by mu_
    uint32_t users = 0;    // threads using fd; guarded by mu_
    bool created = false;  // guarded by mu_
    bool idle = false;     // fd open and in idle_; guarded by mu_
    bool opening = false;  // a thread is opening it (outside mu_); guarded by mu_
    std::list<uint32_t>::iterator idle_pos;
    uint32_t parts = 0;  // set before content starts, then constant
    std::atomic<uint32_t> remaining{0};
    std::atomic<bool> failed{false};
    std::atomic<bool> unopenable{false};  // creating it failed: no more attempts
  };

  // Returns the file's descriptor, opening (or creating) it if needed;
  // creation and closing happen outside mu_, they are the slow part.
  int acquire(uint32_t f);  // throws Error
  void release(uint32_t f);
  int open_file(uint32_t f, bool create);  // throws Error
  void part_done(uint32_t f);
  void finish(uint32_t f);
  void fail(uint32_t f, const std::string& message);
  void handle_error(uint32_t f, const Error& e);
  Reporter& reporter(uint32_t f) { return group_.empty() ? reporter_ : *reporters_[group_[f]]; }
  void completed(uint32_t f) {
    if (on_complete_) on_complete_(f);
  }

  std::vector<PlannedFile> files_;
  const DirTable& dirs_;
  DirFds& dir_fds_;
  Reporter& reporter_;
  std::vector<uint32_t> group_;
  std::vector<Reporter*> reporters_;
  std::function<void(uint32_t f)> on_complete_;
  const fs::ApplyOptions apply_;
  const size_t max_open_;
  std::unique_ptr<Slot[]> slots_;

  mutable std::mutex mu_;
  std::condition_variable opened_;  // signalled when an `opening` slot is done
  std::list<uint32_t> idle_;        // open files nobody is using, oldest first
  size_t open_ = 0;
  size_t max_open_seen_ = 0;
};

// True if every byte is zero.
bool all_zero(ByteView data);

}  // namespace lifeboat::restore
