#include "repo/tree.h"

#include <cstring>

#include "base/error.h"

namespace lifeboat::repo {

// Encoding (FORMAT.md "Trees"): u8 version (1), varint node count, then per
// node the fields below in order. Strings are varint length + bytes; signed
// times are zigzag varints.
namespace {

constexpr uint8_t kTreeVersion = 1;
constexpr uint8_t kFlagDamaged = 1;

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }
  void zigzag(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void str(const std::string& s) {
    varint(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void id(const Id& id) { out_.insert(out_.end(), id.bytes.begin(), id.bytes.end()); }

 private:
  Bytes& out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : p_(in.data()), end_(in.data() + in.size()) {}
  [[noreturn]] static void fail() { throw Error(ErrorCode::kCorrupt, "tree blob is malformed"); }
  uint8_t u8() {
    if (p_ == end_) fail();
    return *p_++;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8();
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    fail();
  }
  int64_t zigzag() {
    uint64_t v = varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::string str() {
    uint64_t n = varint();
    if (n > static_cast<uint64_t>(end_ - p_)) fail();
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  Id id() {
    if (end_ - p_ < 32) fail();
    Id id = Id::from_bytes(p_);
    p_ += 32;
    return id;
  }
  uint64_t remaining() const { return static_cast<uint64_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

Bytes encode_tree(const Tree& tree) {
  for (size_t i = 1; i < tree.nodes.size(); ++i)
    if (!(tree.nodes[i - 1].name < tree.nodes[i].name))
      throw Error(ErrorCode::kInvalidArgument,
                  "tree entries unsorted or repeated at '" + tree.nodes[i].name + "'");
  Bytes out;
  out.reserve(64 + tree.nodes.size() * 128);
  Writer w(out);
  w.u8(kTreeVersion);
  w.varint(tree.nodes.size());
  for (const auto& n : tree.nodes) {
    w.str(n.name);
    w.u8(static_cast<uint8_t>(n.type));
    w.u8(n.damaged ? kFlagDamaged : 0);
    w.varint(n.mode);
    w.varint(n.uid);
    w.varint(n.gid);
    w.str(n.user);
    w.str(n.group);
    w.zigzag(n.mtime_ns);
    w.zigzag(n.atime_ns);
    w.zigzag(n.ctime_ns);
    w.varint(n.size);
    w.varint(n.device);
    w.varint(n.inode);
    w.varint(n.links);
    w.varint(n.rdev);
    w.str(n.symlink_target);
    w.varint(n.xattrs.size());
    for (const auto& x : n.xattrs) {
      w.str(x.name);
      w.str(x.value);
    }
    w.varint(n.content.size());
    for (const auto& c : n.content) {
      w.id(c.blob);
      w.varint(c.length);
    }
    if (n.type == NodeType::kDir) w.id(n.subtree);
  }
  return out;
}

Tree decode_tree(ByteView data) {
  Reader r(data);
  if (r.u8() != kTreeVersion) Reader::fail();
  uint64_t count = r.varint();
  if (count > r.remaining()) Reader::fail();  // every node takes more than a byte
  Tree tree;
  tree.nodes.resize(count);
  for (auto& n : tree.nodes) {
    n.name = r.str();
    uint8_t type = r.u8();
    if (type < 1 || type > 7) Reader::fail();
    n.type = static_cast<NodeType>(type);
    n.damaged = (r.u8() & kFlagDamaged) != 0;
    n.mode = static_cast<uint32_t>(r.varint());
    n.uid = static_cast<uint32_t>(r.varint());
    n.gid = static_cast<uint32_t>(r.varint());
    n.user = r.str();
    n.group = r.str();
    n.mtime_ns = r.zigzag();
    n.atime_ns = r.zigzag();
    n.ctime_ns = r.zigzag();
    n.size = r.varint();
    n.device = r.varint();
    n.inode = r.varint();
    n.links = r.varint();
    n.rdev = r.varint();
    n.symlink_target = r.str();
    uint64_t nx = r.varint();
    if (nx > r.remaining()) Reader::fail();
    n.xattrs.resize(nx);
    for (auto& x : n.xattrs) {
      x.name = r.str();
      x.value = r.str();
    }
    uint64_t nc = r.varint();
    if (nc > r.remaining() / 33) Reader::fail();
    n.content.resize(nc);
    for (auto& c : n.content) {
      c.blob = r.id();
      c.length = r.varint();
    }
    if (n.type == NodeType::kDir) n.subtree = r.id();
  }
  if (!r.done()) Reader::fail();
  for (size_t i = 1; i < tree.nodes.size(); ++i)
    if (!(tree.nodes[i - 1].name < tree.nodes[i].name)) Reader::fail();
  return tree;
}

}  // namespace lifeboat::repo
