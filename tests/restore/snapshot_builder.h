// Builds snapshots by hand for restore tests: a repository on a MemBackend
// behind a counting (and optionally failing) decorator, and helpers that
// store file content in chunks and directories as trees.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "backend/mem_backend.h"
#include "base/error.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "repo/repository.h"
#include "restore/restorer.h"

namespace lifeboat::restore::test {

using backend::Handle;
using backend::ObjectType;
using repo::ContentPart;
using repo::Node;
using repo::NodeType;

constexpr int64_t kSec = 1'000'000'000;

// Forwards to a MemBackend, counting data loads; can fail the next N data
// loads with kUnavailable.
class CountingBackend : public backend::Backend {
 public:
  explicit CountingBackend(std::shared_ptr<backend::MemBackend> inner) : inner_(std::move(inner)) {}
  std::string location() const override { return inner_->location(); }
  void create() override { inner_->create(); }
  void save(const Handle& h, ByteView data) override { inner_->save(h, data); }
  Bytes load(const Handle& h, uint64_t offset, uint64_t length) override {
    if (h.type == ObjectType::kData) {
      if (fail_next.load() > 0 && fail_next.fetch_sub(1) > 0)
        throw Error(ErrorCode::kUnavailable, "injected: connection reset");
      {
        std::lock_guard lock(mu_);
        if (h.name == unreachable_pack)
          throw Error(ErrorCode::kUnavailable, "injected: no route to host");
      }
      Bytes b = inner_->load(h, offset, length);
      data_loads++;
      data_bytes += b.size();
      std::lock_guard lock(mu_);
      loads.push_back({h.name, offset, b.size()});
      return b;
    }
    return inner_->load(h, offset, length);
  }
  std::optional<uint64_t> size(const Handle& h) override { return inner_->size(h); }
  void remove(const Handle& h) override { inner_->remove(h); }
  void list(ObjectType type, const std::function<void(std::string_view, uint64_t)>& fn) override {
    inner_->list(type, fn);
  }

  void reset() {
    data_loads = 0;
    data_bytes = 0;
    std::lock_guard lock(mu_);
    loads.clear();
  }
  struct Load {
    std::string pack;
    uint64_t offset;
    uint64_t length;
  };
  std::vector<Load> loads;  // data loads, guarded by mu_ while a restore runs
  std::atomic<uint64_t> data_loads{0};
  std::atomic<uint64_t> data_bytes{0};
  std::atomic<int> fail_next{0};
  std::string unreachable_pack;  // loads of it always fail with kUnavailable

 private:
  std::shared_ptr<backend::MemBackend> inner_;
  std::mutex mu_;
};

inline Bytes random_bytes(size_t n) { return crypto::random_bytes(n); }
inline Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

class TestRepo {
 public:
  explicit TestRepo(uint32_t pack_size = 4u << 20) {
    mem = std::make_shared<backend::MemBackend>();
    repo::Config cfg = repo::Config::make_new();
    cfg.pack_size = pack_size;
    repo::Repository::init(*mem, "pw", crypto::KdfParams::for_tests(), {}, cfg);
    counting = std::make_shared<CountingBackend>(mem);
    repo = repo::Repository::open(counting, "pw");
  }

  Id blob(const Bytes& data) {
    Id id = repo->hash(data);
    repo->save_blob(repo::BlobType::kData, id, data);
    return id;
  }

  // Content parts for `data`, cut into chunks of `chunk` bytes.
  std::vector<ContentPart> parts(const Bytes& data, size_t chunk = 64 << 10) {
    std::vector<ContentPart> out;
    for (size_t pos = 0; pos < data.size(); pos += chunk) {
      size_t n = std::min(chunk, data.size() - pos);
      Bytes piece(data.begin() + static_cast<ptrdiff_t>(pos),
                  data.begin() + static_cast<ptrdiff_t>(pos + n));
      out.push_back(ContentPart{blob(piece), n});
    }
    return out;
  }

  static Node meta(std::string name, NodeType type, uint32_t mode, int64_t mtime_ns) {
    Node n;
    n.name = std::move(name);
    n.type = type;
    n.mode = mode;
    n.uid = geteuid();
    n.gid = getegid();
    n.mtime_ns = mtime_ns;
    n.atime_ns = mtime_ns + 7;
    return n;
  }

  Node file(std::string name, const Bytes& data, size_t chunk = 64 << 10, uint32_t mode = 0644,
            int64_t mtime_ns = 1'600'000'000 * kSec + 123) {
    Node n = meta(std::move(name), NodeType::kFile, mode, mtime_ns);
    n.content = parts(data, chunk);
    n.size = data.size();
    return n;
  }

  Node file_of(std::string name, std::vector<ContentPart> content, uint32_t mode = 0644,
               int64_t mtime_ns = 1'600'000'000 * kSec + 456) {
    Node n = meta(std::move(name), NodeType::kFile, mode, mtime_ns);
    for (const auto& p : content) n.size += p.length;
    n.content = std::move(content);
    return n;
  }

  Id tree(std::vector<Node> children) {
    std::sort(children.begin(), children.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    repo::Tree t;
    t.nodes = std::move(children);
    return repo->save_tree(t);
  }

  Node dir(std::string name, std::vector<Node> children, uint32_t mode = 0755,
           int64_t mtime_ns = 1'500'000'000 * kSec + 789) {
    Node n = meta(std::move(name), NodeType::kDir, mode, mtime_ns);
    n.subtree = tree(std::move(children));
    return n;
  }

  Node symlink(std::string name, std::string target, int64_t mtime_ns = 1'400'000'000 * kSec + 1) {
    Node n = meta(std::move(name), NodeType::kSymlink, 0777, mtime_ns);
    n.symlink_target = std::move(target);
    return n;
  }

  Node fifo(std::string name, uint32_t mode = 0640) {
    return meta(std::move(name), NodeType::kFifo, mode, 1'300'000'000 * kSec + 2);
  }

  // The snapshot's top tree: one node "." (the root) holding `children`.
  Id snapshot(std::vector<Node> children, uint32_t root_mode = 0750,
              int64_t root_mtime_ns = 1'234'567'890 * kSec + 987654321) {
    Node root = dir(".", std::move(children), root_mode, root_mtime_ns);
    Id top = tree({root});
    repo->flush();
    counting->reset();
    return top;
  }

  // Data loads that touched a data blob (the restorer's content reads, not
  // the tree walk's reads of one or several tree blobs), and their bytes.
  std::pair<uint64_t, uint64_t> content_loads() {
    std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> data_blobs;  // pack -> [begin, end)
    repo->index().for_each([&](const repo::BlobLocation& l) {
      if (l.entry.type != repo::BlobType::kTree)
        data_blobs[l.pack.hex()].emplace_back(l.entry.offset, l.entry.offset + l.entry.stored_length);
    });
    uint64_t n = 0, bytes = 0;
    for (const auto& l : counting->loads) {
      bool touches_data = false;
      for (const auto& [b, e] : data_blobs[l.pack]) touches_data |= b < l.offset + l.length && l.offset < e;
      if (!touches_data) continue;
      ++n;
      bytes += l.length;
    }
    return {n, bytes};
  }

  // Data loads that read tree blobs only (the tree walk's).
  uint64_t tree_loads() {
    return counting->loads.size() - content_loads().first;  // loads holds data loads only
  }

  // Packs holding at least one data blob.
  size_t content_packs() {
    std::set<Id> packs;
    repo->index().for_each([&](const repo::BlobLocation& l) {
      if (l.entry.type == repo::BlobType::kData) packs.insert(l.pack);
    });
    return packs.size();
  }

  std::vector<std::string> data_packs() {
    std::vector<std::string> names;
    mem->list(ObjectType::kData, [&](std::string_view n, uint64_t) { names.emplace_back(n); });
    return names;
  }
  uint64_t data_pack_bytes() {
    uint64_t total = 0;
    mem->list(ObjectType::kData, [&](std::string_view, uint64_t size) { total += size; });
    return total;
  }

  std::shared_ptr<backend::MemBackend> mem;
  std::shared_ptr<CountingBackend> counting;
  std::unique_ptr<repo::Repository> repo;
};

// Collects on_error calls.
struct Errors {
  std::vector<std::pair<std::string, std::string>> list;
  std::function<void(const std::string&, const std::string&)> callback() {
    return [this](const std::string& p, const std::string& m) { list.emplace_back(p, m); };
  }
  bool mentions(const std::string& path_suffix) const {
    for (const auto& [p, m] : list)
      if (p.size() >= path_suffix.size() &&
          p.compare(p.size() - path_suffix.size(), path_suffix.size(), path_suffix) == 0)
        return true;
    return false;
  }
  std::string dump() const {
    std::string out;
    for (const auto& [p, m] : list) out += p + ": " + m + "\n";
    return out;
  }
};

inline Bytes read_file(const std::string& path) {
  Bytes out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  close(fd);
  return out;
}

inline struct stat lstat_of(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) st.st_mode = 0;
  return st;
}

inline bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

inline int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * kSec + st.st_mtim.tv_nsec;
}

}  // namespace lifeboat::restore::test
