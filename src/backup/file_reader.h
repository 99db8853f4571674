// Reads one regular file, or a stream (a pipe from a dump command), and
// turns it into content parts: chunk, hash, and hand each chunk to the
// repository. Detects files that change while being read. Used by the
// archiver on its I/O threads.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "base/byte_stream.h"
#include "base/error.h"
#include "base/thread_pool.h"
#include "chunk/chunker.h"
#include "repo/repository.h"
#include "repo/tree.h"

namespace lifeboat::backup {

// A failure of the repository (not of the file being read): it must fail
// the whole backup rather than be recorded against one file.
class RepositoryError : public Error {
 public:
  explicit RepositoryError(const Error& e) : Error(e) {}
};

struct FileReadResult {
  std::vector<repo::ContentPart> content;
  uint64_t size = 0;        // bytes of content (data + holes)
  uint64_t bytes_read = 0;  // bytes read from disk
  struct stat final_stat {};
  bool changed = false;     // still changing after the retries
};

class FileReader {
 public:
  // `cpu_pool` takes chunk saves of large files so one big file keeps both
  // cores busy; small files are saved inline on the calling thread.
  using Hook = std::function<void(const std::string& path, const char* stage)>;
  // Blobs this reader stores are counted in `tally`.
  FileReader(repo::Repository& repo, const chunk::Chunker& chunker, ThreadPool& cpu_pool,
             repo::SaveTally& tally, Hook test_hook = {})
      : repo_(repo),
        chunker_(chunker),
        cpu_pool_(cpu_pool),
        tally_(tally),
        hook_(std::move(test_hook)) {}

  // Opens and reads `path`. Throws lifeboat::Error (kNotFound if it vanished,
  // kPermission, kIo) naming the path.
  FileReadResult read(const std::string& path, std::atomic<uint64_t>* bytes_counter);

  // Reads `in` to its end (it is not finished: the caller decides what a
  // failed producer means) and chunks it exactly as a file's content, as it
  // arrives: memory stays at one buffer of at most two max-size chunks plus
  // the CPU pool's bounded backlog, whatever the stream's length. Throws
  // what in.read() throws, and RepositoryError.
  FileReadResult read_stream(ByteStream& in, std::atomic<uint64_t>* bytes_counter);

 private:
  void read_once(int fd, const struct stat& st, FileReadResult& out,
                 std::atomic<uint64_t>* bytes_counter, const std::string& path);
  void read_range(Bytes& buf, int fd, uint64_t offset, uint64_t length, uint64_t size_hint,
                  bool large, FileReadResult& out,
                  std::atomic<uint64_t>* bytes_counter, const std::string& path);
  // The one chunking loop, for file ranges and streams alike.
  void read_chunks(Bytes& buf, ByteStream& in, uint64_t size_hint, bool large,
                   FileReadResult& out, std::atomic<uint64_t>* bytes_counter);
  void emit_chunk(ByteView chunk, bool large_file, FileReadResult& out);

  repo::Repository& repo_;
  const chunk::Chunker& chunker_;
  ThreadPool& cpu_pool_;
  repo::SaveTally& tally_;
  Hook hook_;

  // Buffers for files of at least one max-size chunk (2 x max chunk each).
  // Only this many such files are read at once: they are CPU-bound anyway
  // (hash, compress, encrypt), and it keeps the reader's memory bounded
  // however many I/O threads run. Small files use a per-thread buffer.
  static constexpr size_t kBigBuffers = 2;
  static constexpr uint64_t kBigFileBytes = 2u << 20;
  std::mutex big_mu_;
  std::condition_variable big_cv_;
  std::vector<Bytes> big_free_ = std::vector<Bytes>(kBigBuffers);
};

}  // namespace lifeboat::backup
