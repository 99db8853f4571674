#include "backup/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "fs/metadata.h"

namespace lifeboat::backup {

namespace {

// How often a file that changes under us is read again before it is stored
// as it was read and marked damaged.
constexpr int kReadAttempts = 3;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A growing read buffer reused by every small file a thread reads (no
// per-file allocation on the hot path).
Bytes& thread_buffer() {
  thread_local Bytes buf;
  return buf;
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec && a.st_ino == b.st_ino;
}

}  // namespace

FileReadResult FileReader::read(const std::string& path, std::atomic<uint64_t>* bytes_counter) {
  if (hook_) hook_(path, "before_open");
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME)};
  if (f.fd < 0 && errno == EPERM)  // O_NOATIME needs ownership
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (f.fd < 0) throw_errno("cannot open " + path);
  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  FileReadResult out;
  for (int attempt = 1;; ++attempt) {
    struct stat before;
    if (::fstat(f.fd, &before) != 0) throw_errno("cannot stat " + path);
    out = FileReadResult{};
    read_once(f.fd, before, out, bytes_counter, path);
    if (hook_) hook_(path, "after_read");
    if (::fstat(f.fd, &out.final_stat) != 0) throw_errno("cannot stat " + path);
    if (same_version(before, out.final_stat) &&
        out.size == static_cast<uint64_t>(out.final_stat.st_size))
      return out;
    if (attempt == kReadAttempts) {
      out.changed = true;
      return out;
    }
  }
}

void FileReader::read_once(int fd, const struct stat& st, FileReadResult& out,
                           std::atomic<uint64_t>* bytes_counter, const std::string& path) {
  uint64_t size = static_cast<uint64_t>(st.st_size);
  const size_t max_chunk = chunker_.params().max_size;
  const bool large = size > 2ull * max_chunk;

  // Lease a big buffer for files of kBigFileBytes or more; smaller files
  // use the thread's own buffer, which therefore stays small.
  Bytes big;
  const bool use_big = size >= kBigFileBytes;
  if (use_big) {
    std::unique_lock lock(big_mu_);
    big_cv_.wait(lock, [&] { return !big_free_.empty(); });
    big = std::move(big_free_.back());
    big_free_.pop_back();
  }
  struct Return {
    FileReader* self;
    Bytes* buf;
    ~Return() {
      if (!buf) return;
      std::lock_guard lock(self->big_mu_);
      self->big_free_.push_back(std::move(*buf));
      self->big_cv_.notify_one();
    }
  } give_back{this, use_big ? &big : nullptr};
  Bytes& buf = use_big ? big : thread_buffer();
  // Sparse files: only data extents are read; the rest are holes. A file
  // that allocates fewer blocks than its size is the cheap hint to look.
  if (size > 0 && static_cast<uint64_t>(st.st_blocks) * 512 < size) {
    auto extents = fs::data_extents(fd, size);
    uint64_t pos = 0;
    for (const auto& e : extents) {
      if (e.offset > pos) out.content.push_back({Id{}, e.offset - pos});
      read_range(buf, fd, e.offset, e.length, e.length, large, out, bytes_counter, path);
      pos = e.offset + e.length;
    }
    if (pos < size) out.content.push_back({Id{}, size - pos});
    out.size = size;
    return;
  }
  // Read to EOF rather than to st_size, so growth during the read is seen.
  read_range(buf, fd, 0, UINT64_MAX, size, large, out, bytes_counter, path);
}

namespace {

// A byte range of an open file as a stream, read with pread.
class FileRange final : public ByteStream {
 public:
  FileRange(int fd, uint64_t offset, uint64_t length, const std::string& path)
      : fd_(fd), pos_(offset), remaining_(length), path_(path) {}
  size_t read(uint8_t* dst, size_t n) override {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    if (want == 0) return 0;
    for (;;) {
      ssize_t got = ::pread(fd_, dst, want, static_cast<off_t>(pos_));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw_errno("cannot read " + path_);
      pos_ += static_cast<uint64_t>(got);
      remaining_ -= static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }
  void finish() override {}

 private:
  int fd_;
  uint64_t pos_, remaining_;
  const std::string& path_;
};

}  // namespace

void FileReader::read_range(Bytes& buf, int fd, uint64_t offset, uint64_t length,
                            uint64_t size_hint, bool large, FileReadResult& out,
                            std::atomic<uint64_t>* bytes_counter, const std::string& path) {
  FileRange range(fd, offset, length, path);
  read_chunks(buf, range, size_hint, large, out, bytes_counter);
}

FileReadResult FileReader::read_stream(ByteStream& in, std::atomic<uint64_t>* bytes_counter) {
  // A buffer of its own (not one of the big file buffers: a dump can take
  // minutes, paced by the database server, and must not hold back the
  // files). It grows to two max-size chunks at most, whatever the length.
  Bytes buf;
  FileReadResult out;
  read_chunks(buf, in, 0, true, out, bytes_counter);
  return out;
}

void FileReader::read_chunks(Bytes& buf, ByteStream& in, uint64_t size_hint, bool large,
                             FileReadResult& out, std::atomic<uint64_t>* bytes_counter) {
  const size_t max_chunk = chunker_.params().max_size;
  // Small files need a small buffer; it grows (up to two max-size chunks)
  // only for files that need it, and stays allocated for the thread.
  const size_t initial = static_cast<size_t>(
      std::min<uint64_t>(2ull * max_chunk, std::max<uint64_t>(size_hint + 1, 64u << 10)));
  if (buf.size() < initial) buf.resize(initial);

  size_t start = 0, end = 0;  // unconsumed bytes are buf[start, end)
  bool eof = false;
  for (;;) {
    // Fill until a whole max-size chunk is available (or the input ends).
    while (!eof && end - start < max_chunk) {
      if (end == buf.size()) {
        if (start > 0) {  // compact: moves < max_chunk bytes per >= max_chunk consumed
          std::memmove(buf.data(), buf.data() + start, end - start);
          end -= start;
          start = 0;
        } else {
          buf.resize(std::min<size_t>(2 * max_chunk, buf.size() * 2));
        }
      }
      size_t n = in.read(buf.data() + end, buf.size() - end);
      if (n == 0) {
        eof = true;
        break;
      }
      end += n;
      out.bytes_read += n;
      if (bytes_counter) *bytes_counter += n;
    }
    if (end == start) break;
    size_t cut = chunker_.cut(ByteView(buf.data() + start, end - start), eof);
    emit_chunk(ByteView(buf.data() + start, cut), large, out);
    start += cut;
    out.size += cut;
  }
}

void FileReader::emit_chunk(ByteView chunk, bool large_file, FileReadResult& out) {
  Id id = repo_.hash(chunk);
  out.content.push_back({id, chunk.size()});
  // Stored already (in a pack no pending prune plan will delete: can_reference).
  if (repo_.index().contains(id) && repo_.can_reference(id)) return;
  if (!large_file) {
    try {
      repo_.save_blob(repo::BlobType::kData, id, chunk, &tally_);
    } catch (const Error& e) {
      throw RepositoryError(e);
    }
    return;
  }
  // Large files: compress+encrypt on the CPU pool while this thread reads on.
  // The copy is one memcpy per ~1 MiB chunk; the pool's bounded backlog
  // bounds the memory.
  auto copy = std::make_shared<Bytes>(chunk.begin(), chunk.end());
  cpu_pool_.submit(
      [this, id, copy] { repo_.save_blob(repo::BlobType::kData, id, *copy, &tally_); });
}

}  // namespace lifeboat::backup
