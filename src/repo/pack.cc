#include "repo/pack.h"

#include <cstring>

#include "base/error.h"
#include "crypto/random.h"

namespace lifeboat::repo {

namespace {
constexpr char kHeaderMagic[4] = {'L', 'B', 'P', 1};
constexpr char kFooterMagic[4] = {'L', 'B', 'T', 1};
constexpr std::string_view kTrailerAad = "lifeboat pack trailer";
constexpr uint64_t kTrailerCounter = ~uint64_t{0};

void blob_aad(BlobType type, const Id& id, uint8_t (&aad)[33]) {
  aad[0] = static_cast<uint8_t>(type);
  std::memcpy(aad + 1, id.bytes.data(), 32);
}

Error damaged_pack(const Id& pack_id, const std::string& why) {
  return Error(ErrorCode::kCorrupt, "pack " + pack_id.hex() + " is damaged: " + why +
                                        "; run 'lifeboat check' to see what it affects");
}
}  // namespace

void encode_pack_entry(const PackEntry& e, uint8_t* p) {
  p[0] = static_cast<uint8_t>(e.type);
  p[1] = static_cast<uint8_t>(e.compression);
  std::memcpy(p + 2, e.id.bytes.data(), 32);
  put_u32le(p + 34, e.offset);
  put_u32le(p + 38, e.stored_length);
  put_u32le(p + 42, e.raw_length);
}

bool decode_pack_entry(const uint8_t* p, PackEntry& e) {
  if (p[0] > 1 || p[1] > 1) return false;
  e.type = static_cast<BlobType>(p[0]);
  e.compression = static_cast<Compression>(p[1]);
  e.id = Id::from_bytes(p + 2);
  e.offset = get_u32le(p + 34);
  e.stored_length = get_u32le(p + 38);
  e.raw_length = get_u32le(p + 42);
  return true;
}

const char* blob_type_name(BlobType t) { return t == BlobType::kTree ? "tree" : "data"; }

crypto::Key32 pack_subkey(const crypto::Key32& encryption_key, const PackSalt& salt) {
  return crypto::hkdf_sha256(encryption_key, salt, "lifeboat pack");
}

PackWriter::PackWriter(const crypto::Key32& encryption_key, size_t reserve_bytes)
    : encryption_key_(encryption_key), reserve_bytes_(reserve_bytes), aead_(crypto::Key32{}) {
  reset();
}

void PackWriter::reset() {
  crypto::random_bytes(salt_);
  aead_ = crypto::Aead(pack_subkey(encryption_key_, salt_));
  buf_.clear();
  buf_.reserve(reserve_bytes_);
  buf_.insert(buf_.end(), kHeaderMagic, kHeaderMagic + 4);
  entries_.clear();
}

void PackWriter::add(BlobType type, const Id& id, Compression compression, uint32_t raw_length,
                     ByteView stored) {
  uint8_t aad[33];
  blob_aad(type, id, aad);
  PackEntry e;
  e.type = type;
  e.compression = compression;
  e.id = id;
  e.offset = static_cast<uint32_t>(buf_.size());
  e.raw_length = raw_length;
  // The nonce counter is the blob's offset: unique within the pack and
  // known to every reader from the index entry alone.
  aead_.seal(crypto::counter_nonce(e.offset), stored, aad, buf_);
  e.stored_length = static_cast<uint32_t>(buf_.size() - e.offset);
  entries_.push_back(e);
}

PackWriter::Finished PackWriter::finish() {
  Bytes trailer(4 + entries_.size() * kTrailerEntrySize);
  put_u32le(trailer.data(), static_cast<uint32_t>(entries_.size()));
  uint8_t* p = trailer.data() + 4;
  for (const auto& e : entries_) {
    encode_pack_entry(e, p);
    p += kTrailerEntrySize;
  }
  size_t before = buf_.size();
  aead_.seal(crypto::counter_nonce(kTrailerCounter), trailer, as_bytes(kTrailerAad), buf_);
  uint32_t trailer_length = static_cast<uint32_t>(buf_.size() - before);
  buf_.insert(buf_.end(), salt_.begin(), salt_.end());
  uint8_t len[4];
  put_u32le(len, trailer_length);
  buf_.insert(buf_.end(), len, len + 4);
  buf_.insert(buf_.end(), kFooterMagic, kFooterMagic + 4);

  Finished f;
  f.bytes = std::move(buf_);
  f.id = crypto::sha256(f.bytes);
  f.salt = salt_;
  f.entries = std::move(entries_);
  buf_ = Bytes();
  entries_ = {};
  reset();
  return f;
}

void decode_blob(const crypto::Aead& pack_aead, const crypto::IdHasher& hasher,
                 const PackEntry& entry, ByteView stored, const Id& pack_id, Bytes& out,
                 Bytes& scratch) {
  uint8_t aad[33];
  blob_aad(entry.type, entry.id, aad);
  auto damaged = [&](const char* why) {
    return Error(ErrorCode::kCorrupt, std::string(blob_type_name(entry.type)) + " blob " +
                                          entry.id.hex() + " in pack " + pack_id.hex() + " " +
                                          why + "; run 'lifeboat check' to see what it affects");
  };
  if (entry.compression == Compression::kNone) {
    if (!pack_aead.open(crypto::counter_nonce(entry.offset), stored, aad, out))
      throw damaged("does not authenticate");
    if (out.size() != entry.raw_length) throw damaged("has the wrong length");
  } else {
    if (!pack_aead.open(crypto::counter_nonce(entry.offset), stored, aad, scratch))
      throw damaged("does not authenticate");
    try {
      decompress(scratch, entry.raw_length, out);
    } catch (const Error&) {
      throw damaged("does not decompress");
    }
  }
  if (hasher.mac(out) != entry.id) throw damaged("does not match its id");
}

PackFooter parse_pack_footer(ByteView tail, const Id& pack_id) {
  if (tail.size() < kPackFooterSize ||
      std::memcmp(tail.data() + tail.size() - 4, kFooterMagic, 4) != 0)
    throw damaged_pack(pack_id, "no pack footer");
  PackFooter f;
  const uint8_t* p = tail.data() + tail.size() - kPackFooterSize;
  std::memcpy(f.salt.data(), p, kPackSaltSize);
  f.trailer_length = get_u32le(p + kPackSaltSize);
  return f;
}

std::vector<PackEntry> parse_pack_trailer(const crypto::Key32& encryption_key,
                                          const PackFooter& footer, ByteView trailer,
                                          uint64_t pack_size, const Id& pack_id) {
  if (uint64_t{footer.trailer_length} + kPackFooterSize + kPackHeaderSize > pack_size ||
      trailer.size() != footer.trailer_length)
    throw damaged_pack(pack_id, "trailer length out of range");
  crypto::Aead aead(pack_subkey(encryption_key, footer.salt));
  Bytes plain;
  if (!aead.open(crypto::counter_nonce(kTrailerCounter), trailer, as_bytes(kTrailerAad), plain))
    throw damaged_pack(pack_id, "trailer does not authenticate");
  if (plain.size() < 4) throw damaged_pack(pack_id, "trailer too short");
  uint32_t count = get_u32le(plain.data());
  if (plain.size() != 4 + uint64_t{count} * kTrailerEntrySize)
    throw damaged_pack(pack_id, "trailer length mismatch");
  uint64_t blob_area_end = pack_size - kPackFooterSize - footer.trailer_length;
  std::vector<PackEntry> entries(count);
  const uint8_t* p = plain.data() + 4;
  for (auto& e : entries) {
    if (!decode_pack_entry(p, e) || e.offset < kPackHeaderSize ||
        uint64_t{e.offset} + e.stored_length > blob_area_end || e.stored_length < crypto::kTagSize)
      throw damaged_pack(pack_id, "trailer entry out of range");
    p += kTrailerEntrySize;
  }
  return entries;
}

}  // namespace lifeboat::repo
