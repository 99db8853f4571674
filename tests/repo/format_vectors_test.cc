// The test vectors of docs/FORMAT.md (section 17), asserted against the
// code that is the format. Every constant below appears verbatim in
// FORMAT.md; change one only together with the other (and with the format
// version, if an existing repository would read differently).
//
// Where the code draws a random salt internally (sealed objects, packs, key
// files) the vectors were produced once by the code and are decoded here;
// the deterministic pieces (MAC ids, subkeys, AES-GCM of a blob at a given
// offset, trailer, tree encoding, gear table, chunk boundaries, segment
// payload) are rebuilt here from the primitives exactly as FORMAT.md
// describes them, independently of the writer code, and compared byte for
// byte.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/hex.h"
#include "chunk/chunker.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/mac.h"
#include "repo/compress.h"
#include "repo/config.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/sealed.h"
#include "repo/snapshot.h"
#include "repo/tree.h"

namespace lifeboat::repo {
namespace {

// Hex with any whitespace in it (so blocks can be pasted from FORMAT.md).
Bytes H(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  auto b = from_hex(clean);
  EXPECT_TRUE(b.has_value()) << "bad hex constant: " << clean;
  return b ? *b : Bytes{};
}
std::string X(std::string_view text) { return to_hex(H(text)); }  // normalized hex
Id I(std::string_view text) {
  Bytes b = H(text);
  EXPECT_EQ(b.size(), 32u);
  b.resize(32);
  return Id::from_bytes(b.data());
}

// ---- fixed inputs (FORMAT.md 17.1) ----

// Master keys: the 96 bytes 0x00..0x5f (encryption | id | chunker).
MasterKeys fixed_keys() {
  MasterKeys k;
  for (int i = 0; i < 32; ++i) {
    k.encryption[i] = static_cast<uint8_t>(i);
    k.id[i] = static_cast<uint8_t>(0x20 + i);
    k.chunker[i] = static_cast<uint8_t>(0x40 + i);
  }
  return k;
}

// Pack / object salt used for the deterministic vectors: bytes 0xa0..0xbf.
PackSalt fixed_salt() {
  PackSalt s;
  for (int i = 0; i < 32; ++i) s[i] = static_cast<uint8_t>(0xa0 + i);
  return s;
}

// SplitMix64 (seed 0), each output written as 8 bytes little-endian.
Bytes splitmix_bytes(size_t n) {
  Bytes out(n);
  uint64_t state = 0;
  for (size_t i = 0; i < n; i += 8) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<uint8_t>(z >> (8 * k));
  }
  return out;
}

// The tree of FORMAT.md 17.3: one file and one directory.
Tree fixed_tree(const crypto::IdHasher& ids) {
  Tree t;
  Node f;
  f.name = "a.txt";
  f.type = NodeType::kFile;
  f.mode = 0644;
  f.uid = 1000;
  f.gid = 1000;
  f.user = "alice";
  f.group = "alice";
  f.mtime_ns = 1700000000123456789;
  f.atime_ns = 1700000000123456789;
  f.ctime_ns = 1700000001000000000;
  f.size = 5;
  f.device = 2049;
  f.inode = 131073;
  f.links = 1;
  f.xattrs = {{"user.k", "v"}};
  f.content = {{ids.mac(as_bytes("hello")), 5}};
  f.damaged = true;
  Node d;
  d.name = "sub";
  d.type = NodeType::kDir;
  d.mode = 0755;
  d.user = "root";
  d.group = "root";
  d.mtime_ns = -1000000000;
  d.atime_ns = -1000000000;
  d.ctime_ns = 1700000002000000000;
  d.device = 2049;
  d.inode = 2;
  d.links = 2;
  d.subtree = ids.mac(H("0100"));  // the empty tree
  t.nodes = {f, d};
  return t;
}

// ---- expected values (FORMAT.md 17.2-17.9) ----

constexpr std::string_view kBlobIdHello =
    "1aec074502f2463912a191ca4d93c770524367c8afd40af8766cf0a96888bd8c";
constexpr std::string_view kBlobIdEmptyTree =
    "807d5b32722d2bf0c05ee79689f762e0be57832810d3037a62f1c6029afce554";
constexpr std::string_view kSha256Hello =
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
constexpr std::string_view kPackSubkey =
    "fa86957d8a439da348c542b78164e6eb734c391379fadd01f3a609c8eee2824d";
constexpr std::string_view kObjectSubkey =
    "ba2cb9bc08d751291f0302336be515ffd0a2363d0ef1230a0782f054f956cb03";
constexpr std::string_view kStoredHello = "ab3c155a815a1228610d66836717a53e1e16438375";
constexpr std::string_view kTreeEncoding =
    "010205612e7478740101a403e807e80705616c69636505616c696365aab4aed8"
    "c7bfce972faab4aed8c7bfce972f80a8a69ccebfce972f058110818008010000"
    "0106757365722e6b0176011aec074502f2463912a191ca4d93c770524367c8af"
    "d40af8766cf0a96888bd8c05037375620200ed03000004726f6f7404726f6f74"
    "ffa7d6b907ffa7d6b90780d0fcd5d5bfce972f008110020200000000807d5b32"
    "722d2bf0c05ee79689f762e0be57832810d3037a62f1c6029afce554";
constexpr std::string_view kDataZstd = "28b52ffd6000017d0000406c696665626f61740100f5530b17";
constexpr std::string_view kTrailerPlain =
    "0200000001006b0ef10b0e6bfe190ea76b8ab76274a0c7a5f3ba2f517a17204d"
    "e0622fbf53b704000000cc000000bc00000000013d022d8d86e118292008d2ea"
    "2f46611b2261beca577a13bcb75340159fa7d2d8d00000002900000000020000";
constexpr std::string_view kPack =
    "4c425001c25b7c57c068f60311ce236569d77d8311063aea489bb1e56f64dd39"
    "a78f8baff05142a2d94d7cf9499351d58ccd496f006500cf54720eeb69b58984"
    "6444486d3d425061438828d1e0045e318d06179aad3f73595c7fbfc418e46d09"
    "7abe68d22bf63ed5afd43935cf4bba7724bfafa459038416e44aeb4a9b4865e3"
    "f8bb2d38f541c5093a4ca892bee242f50bf799ff26f95f7e4726cb08fbd61e5c"
    "33270bfea0106d8be8ae31a2daabaae7e4cbdf770c33256bdc18227d30fe8b84"
    "55d04c265af58ec380e1d0ea57b34d8e0699e88b52d018d1ad2000464e4cb475"
    "c10ae74eeabc9712ff450d7a8516039204a04284c52968e4d3dfa14aa67f7ef8"
    "0ba5ecb15617fbe35add6ead51db873d8e56435e2b23ab80606436a90a944f94"
    "f8af26a19482ad5ae3ee70b751823da557e59571d49ee7ab45f7a9f9394bd5e3"
    "16f359b293a30b2acdf28630bbd45e2dcf1e58b83b4f55008a23b5c762c7aa66"
    "249574423375ac97d9a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6"
    "b7b8b9babbbcbdbebf700000004c425401";
constexpr std::string_view kPackName =
    "b4d55aafc0d193c2e4e544b6c58e18d782002b7fa3b4c82265a0db05240994da";
constexpr std::string_view kSegmentPayload =
    "01000000b4d55aafc0d193c2e4e544b6c58e18d782002b7fa3b4c82265a0db05"
    "240994daa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"
    "bcbdbebf0200000001006b0ef10b0e6bfe190ea76b8ab76274a0c7a5f3ba2f51"
    "7a17204de0622fbf53b704000000cc000000bc00000000013d022d8d86e11829"
    "2008d2ea2f46611b2261beca577a13bcb75340159fa7d2d8d000000029000000"
    "00020000";
constexpr std::string_view kSealedSegment =
    "4c424f01ba5169e92c78f002c2e063e7d419282c9523d730642073f1b8132055"
    "60cb1d4688dac967023be8c63783ca2a6ab927b101b02f9f5b0c0738c41cb2a8"
    "08b2363b750f14b14a4b1d81e628c3c1b6d4a2c5d4dff21726d385bdae5618ea"
    "c5f28c3fcd4a4f452f2e564c38b991546593f10bf613d616b4c996c6f6d67bed"
    "781b215f057e2c4ddf60317e6aa001d66317fbb22f296aa70fa888cfe7c0d860"
    "c72d2015aa1ad7bf2235f85f2f0363ae1df4c601df515c086050e3fc75908d68"
    "fe4e021fc3ceb6e6a9a933e14538bcb2c489cb4afc96c96eb9e0798073";
constexpr std::string_view kSealedConfig =
    "4c424f01622dee024c25bb21a21de71f1b7c43c0ee58808abd39b531dc91669c"
    "a664f29d7ede6b1d3afd5cf42da3c6b9e1ce5197b426b4b6b45e4138c3c3e9e1"
    "5652c34be55b7ff6ea30936f23e50420a93984e782b6dadf38c69e1a1c957d8c"
    "f78a96776ff8a10d8c136678a023389c31e276ed66e1d2b276c766ddf90f5dfb"
    "0707e0236a92277bfec38876055bc835bf436ba833dee0e5e31660a4616bd1d2"
    "42cb2fd9f0b0921bf3b3588fd6b776458f566948d8a1d796cbbae882fcc43ffc"
    "d94b91ea9e80b1a8460857d47ba3b5a94ab29f8867094fe091f8c2f374f9e933"
    "f887693d9f";
constexpr std::string_view kConfigJson =
    R"json({"version":1,"id":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","chunker":{"algorithm":"fastcdc-gear-v1","min_size":524288,"avg_size":1048576,"max_size":8388608},"pack_size":16777216,"compression":{"algorithm":"zstd","level":3}})json";
constexpr std::string_view kSnapshotJson =
    R"json({"time":"2023-11-14T22:13:20.123456789Z","node":"web209","account":"alice","hostname":"web209.example.net","username":"root","paths":["/home/alice"],"tags":["nightly"],"tree":"1111111111111111111111111111111111111111111111111111111111111111","parent":"2222222222222222222222222222222222222222222222222222222222222222","partial":true,"error_paths":["hex:2f686f6d652f616c6963652f636166e92e747874","hex:6865783a6f6464"],"summary":{"started":"2023-11-14T22:13:20.123456789Z","finished":"2023-11-14T22:14:20.000000000Z","files_new":3,"files_changed":1,"files_unmodified":10,"dirs":2,"other_entries":1,"bytes_total":12345,"bytes_read":2345,"blobs_added":4,"bytes_added":2300,"bytes_stored":1900,"errors":2},"program_version":"lifeboat 0.1.0"})json";
constexpr std::string_view kSealedSnapshot =
    "4c424f014a35a7ee2ea5e986da7433ee6a37336995ed1d44f0da91dc5fea0fcf"
    "7759d116ac490ddc290eaf7f470a7654b67a04a1277c840f868b376899c17169"
    "cfa1182c38c62a7c6680fdc72fd73fdd20e537f15122f6617986066633bb3ecc"
    "6142770d6d350f0ac0641aa55ffa6544bd50d854b5814bb2315aa92f29a8e272"
    "b695083cec667667594084efd2226369ca7949f6663daa2c70001644d3b81424"
    "9533ab559395548951bba2e6ca91a2eb005997de64c044be0e4d6f87a2325ffc"
    "0223af6dbe22f4deb6e105fa287fae8ba4a64a53aa28cad80f2326378ba0d856"
    "4c67a98aa0f7334221fe3e9edf96a87df41fe4f78310b0a9c18df977555e34fe"
    "1f02a817cf08de135dd34d01ab692968c1d6083ca76aaa63e2711ec8ee750735"
    "c796929c234501925a6c081c6b556a75c3d0d001e253510eb776e811199112ba"
    "76a3fa5cdbd4076dd925fa3767298b0d85d62c5dde09b563e029493d463fac96"
    "efe7f355313a55f8e243e03a18c28daafc9ac9e7d41c0f7463c74dfda99ee2ec"
    "7c568f0866cd615f94a79e090bdb5d79b5e29670ccf93ffa377605a4788fb1ab"
    "8312125d28d07068b5c4dfa8f75e0cdf8432c2";
constexpr std::string_view kKeyFile = R"json({
  "version": 1,
  "kdf": "argon2id",
  "ops_limit": 1,
  "mem_limit": 8192,
  "salt": "d00618bf41ea0abcb145a381f4efeb72",
  "data": "030bdf143cdead2e3473f6a495e4d71aa09e2ecef8260d52aff3a65672ba593723c7f82f7505fdc094a87f9266f201e2b4b8becfa99f7295192697bb9a62d37eba87fef4f6648cd63f3b87da78cc05a4197ade9ca01d66b7a961f0a8d03667162689e14a51eb75e950ab2322428ccbdd",
  "hostname": "web209",
  "username": "root",
  "label": "node web209",
  "created": "2023-11-14T22:13:20.000000000Z"
}
)json";
constexpr std::string_view kKeyFileName =
    "08f116629f3e0c59c0deab252b4d868a178d8221489964b88b20a8fc4136b984";
constexpr std::string_view kSnapshotName =
    "5642a70bedc34a6fea7f8902bf948cf81a27101fed62fd0b689e3193587a0184";
constexpr std::string_view kSealedEmptySegment =
    "4c424f01a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"
    "bcbdbebfc1fe0ad7b596778192b11d78a261e1e1299274ef128d557702";
constexpr std::string_view kWrapKey =
    "16e2e54bbda6057f4060a134122a6ff29717602ad0696a2354a658b1eb2e8c84";
constexpr std::string_view kGear =
    "681db26cd1d04ac9 d71ec2117b859410 47b76021b2954477 ceb49b08c78336ee ";
constexpr std::string_view kMasksDefault = "aaa554aaa5540000 a4a4a4a4a4a40000";
constexpr std::string_view kMasksSmall = "9248924892480000 8884442221100000";
constexpr std::string_view kSplitmixFirst16 = "afcd1d7b39a820e2f465b9a16a9e786e";
constexpr std::string_view kChunksDefault =
    "1257673 1051048 1047296 1154614 1114729 1113941 1468917 1408498 "
    "1527531 1286317 1476586 1119298 1275923 474845 ";
constexpr std::string_view kChunksSmall =
    "10769 9853 8310 2928 8218 11967 11193 9980 10361 12340 3502 8780 8933 "
    "4134 14167 8609 8640 12334 11310 10559 9535 11662 4196 8213 8264 9382 "
    "11393 12612 ";

TEST(FormatPrimitives, BlobIdsAndObjectNames) {
  const MasterKeys keys = fixed_keys();
  crypto::IdHasher ids(keys.id);
  EXPECT_EQ(ids.mac(as_bytes("hello")).hex(), kBlobIdHello);
  EXPECT_EQ(ids.mac(H("0100")).hex(), kBlobIdEmptyTree);
  EXPECT_EQ(crypto::sha256(as_bytes("hello")).hex(), kSha256Hello);
}

TEST(FormatPrimitives, NoncesAndSubkeys) {
  EXPECT_EQ(to_hex(crypto::counter_nonce(0)), "000000000000000000000000");
  EXPECT_EQ(to_hex(crypto::counter_nonce(4)), "000000000400000000000000");
  EXPECT_EQ(to_hex(crypto::counter_nonce(0x0102030405060708ull)), "000000000807060504030201");
  EXPECT_EQ(to_hex(crypto::counter_nonce(~uint64_t{0})), "00000000ffffffffffffffff");
  const MasterKeys keys = fixed_keys();
  EXPECT_EQ(to_hex(pack_subkey(keys.encryption, fixed_salt())), kPackSubkey);
  EXPECT_EQ(to_hex(crypto::hkdf_sha256(keys.encryption, fixed_salt(), "lifeboat pack")),
            kPackSubkey);
  EXPECT_EQ(to_hex(crypto::hkdf_sha256(keys.encryption, fixed_salt(), "lifeboat object")),
            kObjectSubkey);
}

TEST(FormatPrimitives, BlobCiphertextAtOffset) {
  const MasterKeys keys = fixed_keys();
  crypto::IdHasher ids(keys.id);
  crypto::Aead aead(pack_subkey(keys.encryption, fixed_salt()));
  Bytes aad{0x00};  // type data
  append(aad, ids.mac(as_bytes("hello")).bytes);
  Bytes stored;
  aead.seal(crypto::counter_nonce(4), as_bytes("hello"), aad, stored);
  EXPECT_EQ(to_hex(stored), kStoredHello);
}

TEST(FormatTrees, EncodingOfOneFileAndOneDir) {
  const MasterKeys keys = fixed_keys();
  crypto::IdHasher ids(keys.id);
  Tree t = fixed_tree(ids);
  Bytes enc = encode_tree(t);
  EXPECT_EQ(to_hex(enc), X(kTreeEncoding));
  Tree back = decode_tree(H(kTreeEncoding));
  EXPECT_EQ(back.nodes, t.nodes);
  EXPECT_EQ(to_hex(encode_tree(Tree{})), "0100");
}

// ---- packs ----

struct SpecBlob {
  BlobType type;
  Compression compression;
  Bytes plaintext;  // what the id is the MAC of
  Bytes body;       // what is encrypted (plaintext, or its zstd frame)
};

// Builds a pack from FORMAT.md section 7, independently of PackWriter.
Bytes build_pack(const MasterKeys& keys, const PackSalt& salt, const std::vector<SpecBlob>& blobs,
                 std::vector<PackEntry>* entries_out, Bytes* trailer_plain_out) {
  crypto::IdHasher ids(keys.id);
  crypto::Aead aead(crypto::hkdf_sha256(keys.encryption, salt, "lifeboat pack"));
  Bytes pack = {'L', 'B', 'P', 0x01};
  std::vector<PackEntry> entries;
  for (const auto& b : blobs) {
    PackEntry e;
    e.type = b.type;
    e.compression = b.compression;
    e.id = ids.mac(b.plaintext);
    e.offset = static_cast<uint32_t>(pack.size());
    e.raw_length = static_cast<uint32_t>(b.plaintext.size());
    Bytes aad{static_cast<uint8_t>(b.type)};
    append(aad, e.id.bytes);
    aead.seal(crypto::counter_nonce(e.offset), b.body, aad, pack);
    e.stored_length = static_cast<uint32_t>(pack.size() - e.offset);
    entries.push_back(e);
  }
  Bytes trailer(4);
  put_u32le(trailer.data(), static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) {
    uint8_t rec[46];
    rec[0] = static_cast<uint8_t>(e.type);
    rec[1] = static_cast<uint8_t>(e.compression);
    std::memcpy(rec + 2, e.id.bytes.data(), 32);
    put_u32le(rec + 34, e.offset);
    put_u32le(rec + 38, e.stored_length);
    put_u32le(rec + 42, e.raw_length);
    append(trailer, ByteView(rec, sizeof rec));
  }
  size_t before = pack.size();
  aead.seal(crypto::counter_nonce(~uint64_t{0}), trailer, as_bytes("lifeboat pack trailer"), pack);
  uint32_t trailer_length = static_cast<uint32_t>(pack.size() - before);
  append(pack, salt);
  uint8_t len[4];
  put_u32le(len, trailer_length);
  append(pack, ByteView(len, 4));
  append(pack, as_bytes("LBT\x01"));
  if (entries_out) *entries_out = entries;
  if (trailer_plain_out) *trailer_plain_out = trailer;
  return pack;
}

// Blob 1 of the pack vector: "lifeboat" 64 times (512 bytes, compressible).
Bytes lifeboat_x64() {
  Bytes b;
  for (int i = 0; i < 64; ++i) append(b, as_bytes("lifeboat"));
  return b;
}

// The two blobs of the pack vector (17.4): the tree of 17.3 (stored uncompressed, as
// the writer does: zstd would not save 1/32 of it) and a compressible data
// blob stored as the zstd frame kDataZstd.
std::vector<SpecBlob> fixed_blobs() {
  crypto::IdHasher ids(fixed_keys().id);
  Bytes tree = encode_tree(fixed_tree(ids));
  return {{BlobType::kTree, Compression::kNone, tree, tree},
          {BlobType::kData, Compression::kZstd, lifeboat_x64(), H(kDataZstd)}};
}

TEST(FormatPacks, TwoBlobPack) {
  const MasterKeys keys = fixed_keys();
  crypto::IdHasher ids(keys.id);
  const auto blobs = fixed_blobs();
  // The writer's compression choices for these two blobs.
  Bytes z;
  EXPECT_EQ(compress(blobs[0].plaintext, z, CompressOptions{3}), Compression::kNone);
  EXPECT_EQ(compress(blobs[1].plaintext, z, CompressOptions{3}), Compression::kZstd);
  // The zstd frame is an input (zstd output may differ between zstd
  // versions); it must decode to the data blob.
  Bytes unz;
  decompress(H(kDataZstd), blobs[1].plaintext.size(), unz);
  EXPECT_EQ(unz, blobs[1].plaintext);

  std::vector<PackEntry> entries;
  Bytes trailer_plain;
  Bytes pack = build_pack(keys, fixed_salt(), blobs, &entries, &trailer_plain);
  EXPECT_EQ(to_hex(trailer_plain), X(kTrailerPlain));
  EXPECT_EQ(to_hex(pack), X(kPack));
  EXPECT_EQ(crypto::sha256(pack).hex(), kPackName);

  // The reader code accepts the vector and finds both blobs.
  Bytes vec = H(kPack);
  Id pack_id = I(kPackName);
  PackFooter footer = parse_pack_footer(vec, pack_id);
  EXPECT_EQ(footer.salt, fixed_salt());
  EXPECT_EQ(footer.trailer_length, 4u + 2 * 46 + 16);
  ByteView trailer(vec.data() + vec.size() - kPackFooterSize - footer.trailer_length,
                   footer.trailer_length);
  auto parsed = parse_pack_trailer(keys.encryption, footer, trailer, vec.size(), pack_id);
  ASSERT_EQ(parsed.size(), 2u);
  crypto::Aead aead(pack_subkey(keys.encryption, footer.salt));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(parsed[i].type, entries[i].type);
    EXPECT_EQ(parsed[i].compression, entries[i].compression);
    EXPECT_EQ(parsed[i].id, entries[i].id);
    EXPECT_EQ(parsed[i].offset, entries[i].offset);
    EXPECT_EQ(parsed[i].stored_length, entries[i].stored_length);
    EXPECT_EQ(parsed[i].raw_length, entries[i].raw_length);
    Bytes out, scratch;
    decode_blob(aead, ids, parsed[i],
                ByteView(vec).subspan(parsed[i].offset, parsed[i].stored_length), pack_id, out,
                scratch);
    EXPECT_EQ(out, blobs[i].plaintext);
  }
  EXPECT_EQ(parsed[0].offset, 4u);
  EXPECT_EQ(parsed[1].offset, 4u + 188 + 16);
}

TEST(FormatPacks, PackWriterMatchesTheSpec) {
  // PackWriter draws its own salt; rebuilt from the spec with that salt, the
  // pack must be identical byte for byte.
  const MasterKeys keys = fixed_keys();
  const auto blobs = fixed_blobs();
  crypto::IdHasher ids(keys.id);
  PackWriter w(keys.encryption, 1 << 16);
  for (const auto& b : blobs)
    w.add(b.type, ids.mac(b.plaintext), b.compression, static_cast<uint32_t>(b.plaintext.size()),
          b.body);
  PackWriter::Finished f = w.finish();
  EXPECT_EQ(f.id, crypto::sha256(f.bytes));
  Bytes spec = build_pack(keys, f.salt, blobs, nullptr, nullptr);
  EXPECT_EQ(to_hex(f.bytes), to_hex(spec));
}

// ---- sealed objects ----

struct Opened {
  uint8_t compression = 0xff;
  uint32_t raw_length = 0;
  Bytes body;
};

// Opens a sealed object as FORMAT.md section 5 describes it.
Opened open_by_spec(const crypto::Key32& encryption_key, std::string_view context, ByteView obj) {
  Opened o;
  EXPECT_GE(obj.size(), 4u + 32 + 5 + 16);
  EXPECT_EQ(to_hex(obj.first(4)), "4c424f01");  // "LBO\x01"
  crypto::Aead aead(crypto::hkdf_sha256(encryption_key, obj.subspan(4, 32), "lifeboat object"));
  Bytes aad = {'L', 'B', 'O', 0x01};
  append(aad, as_bytes(context));
  Bytes plain;
  EXPECT_TRUE(aead.open(crypto::counter_nonce(0), obj.subspan(36), aad, plain));
  if (plain.size() < 5) return o;
  o.compression = plain[0];
  o.raw_length = get_u32le(&plain[1]);
  o.body.assign(plain.begin() + 5, plain.end());
  return o;
}

TEST(FormatIndex, SegmentPayloadAndSealedSegment) {
  const MasterKeys keys = fixed_keys();
  std::vector<PackEntry> entries;
  build_pack(keys, fixed_salt(), fixed_blobs(), &entries, nullptr);
  PackInfo info{I(kPackName), fixed_salt(), entries};

  Bytes payload(4);
  put_u32le(payload.data(), 1);
  append(payload, info.id.bytes);
  append(payload, info.salt);
  uint8_t n[4];
  put_u32le(n, 2);
  append(payload, ByteView(n, 4));
  Bytes trailer = H(kTrailerPlain);
  append(payload, ByteView(trailer).subspan(4));  // entries as in the trailer
  EXPECT_EQ(to_hex(payload), X(kSegmentPayload));

  // Produced once by encode_index_segment (random salt); decoded here.
  Bytes sealed = H(kSealedSegment);
  EXPECT_EQ(to_hex(open_object(keys.encryption, "index", sealed, "vector")), X(kSegmentPayload));
  auto packs = decode_index_segment(keys.encryption, sealed, "vector");
  ASSERT_EQ(packs.size(), 1u);
  EXPECT_EQ(packs[0].id, info.id);
  EXPECT_EQ(packs[0].salt, info.salt);
  ASSERT_EQ(packs[0].entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(packs[0].entries[i].id, entries[i].id);
    EXPECT_EQ(packs[0].entries[i].offset, entries[i].offset);
    EXPECT_EQ(packs[0].entries[i].stored_length, entries[i].stored_length);
    EXPECT_EQ(packs[0].entries[i].raw_length, entries[i].raw_length);
    EXPECT_EQ(packs[0].entries[i].type, entries[i].type);
    EXPECT_EQ(packs[0].entries[i].compression, entries[i].compression);
  }
  Opened o = open_by_spec(keys.encryption, "index", sealed);
  EXPECT_EQ(o.raw_length, payload.size());
  if (o.compression == 0) {
    EXPECT_EQ(o.body, payload);
    // Deterministic given the salt: re-sealing the plaintext reproduces it.
    Bytes plain{0};
    uint8_t len[4];
    put_u32le(len, static_cast<uint32_t>(payload.size()));
    append(plain, ByteView(len, 4));
    append(plain, payload);
    Bytes again(sealed.begin(), sealed.begin() + 36);
    Bytes aad = {'L', 'B', 'O', 0x01, 'i', 'n', 'd', 'e', 'x'};
    crypto::Aead(
        crypto::hkdf_sha256(keys.encryption, ByteView(sealed).subspan(4, 32), "lifeboat object"))
        .seal(crypto::counter_nonce(0), plain, aad, again);
    EXPECT_EQ(to_hex(again), to_hex(sealed));
  } else {
    ADD_FAILURE() << "segment vector expected uncompressed";
  }
  // The context is authenticated: the same bytes are not a snapshot.
  EXPECT_THROW(open_object(keys.encryption, "snapshot", sealed, "vector"), Error);
}

TEST(FormatConfig, SealedConfig) {
  const MasterKeys keys = fixed_keys();
  Bytes sealed = H(kSealedConfig);
  Config c = decode_config(keys.encryption, sealed);
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.id, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  EXPECT_EQ(c.chunker.min_size, 512u << 10);
  EXPECT_EQ(c.chunker.avg_size, 1u << 20);
  EXPECT_EQ(c.chunker.max_size, 8u << 20);
  EXPECT_EQ(c.pack_size, 16u << 20);
  EXPECT_EQ(c.compression_level, 3);
  Bytes plain = open_object(keys.encryption, "config", sealed, "vector");
  EXPECT_EQ(std::string(as_chars(plain)), kConfigJson);
  Opened o = open_by_spec(keys.encryption, "config", sealed);
  EXPECT_EQ(o.compression, 1);  // zstd: the vector covers a compressed sealed object
  EXPECT_EQ(o.raw_length, kConfigJson.size());
  Bytes unz;
  decompress(o.body, o.raw_length, unz);
  EXPECT_EQ(std::string(as_chars(unz)), kConfigJson);
}

Snapshot fixed_snapshot() {
  Snapshot s;
  s.time = 1700000000123456789;
  s.node = "web209";
  s.account = "alice";
  s.hostname = "web209.example.net";
  s.username = "root";
  s.paths = {"/home/alice"};
  s.tags = {"nightly"};
  s.tree = I("1111111111111111111111111111111111111111111111111111111111111111");
  s.parent = I("2222222222222222222222222222222222222222222222222222222222222222");
  s.partial = true;
  s.error_paths = {std::string("/home/alice/caf\xe9.txt"), "hex:odd"};
  s.summary.started = 1700000000123456789;
  s.summary.finished = 1700000060000000000;
  s.summary.files_new = 3;
  s.summary.files_changed = 1;
  s.summary.files_unmodified = 10;
  s.summary.dirs = 2;
  s.summary.other_entries = 1;
  s.summary.bytes_total = 12345;
  s.summary.bytes_read = 2345;
  s.summary.blobs_added = 4;
  s.summary.bytes_added = 2300;
  s.summary.bytes_stored = 1900;
  s.summary.errors = 2;
  s.program_version = "lifeboat 0.1.0";
  return s;
}

TEST(FormatSnapshots, JsonAndSealedSnapshot) {
  const MasterKeys keys = fixed_keys();
  Snapshot s = fixed_snapshot();
  EXPECT_EQ(snapshot_to_json(s), kSnapshotJson);
  Snapshot back = snapshot_from_json(kSnapshotJson, "vector");
  EXPECT_EQ(back.error_paths, s.error_paths);
  EXPECT_EQ(back.time, s.time);
  EXPECT_EQ(back.parent, s.parent);
  Bytes sealed = H(kSealedSnapshot);
  Snapshot d = decode_snapshot(keys.encryption, sealed, "vector");
  EXPECT_EQ(snapshot_to_json(d), kSnapshotJson);
  Opened o = open_by_spec(keys.encryption, "snapshot", sealed);
  EXPECT_EQ(o.compression, 1);
  EXPECT_EQ(o.raw_length, kSnapshotJson.size());
  EXPECT_EQ(crypto::sha256(sealed).hex(), kSnapshotName);
}

// ---- keys ----

TEST(FormatKeys, KeyFile) {
  const MasterKeys fixed = fixed_keys();
  Bytes file(kKeyFile.begin(), kKeyFile.end());
  MasterKeys k;
  ASSERT_TRUE(unwrap_key_file(file, "correct horse battery staple", k));
  EXPECT_EQ(k.encryption, fixed.encryption);
  EXPECT_EQ(k.id, fixed.id);
  EXPECT_EQ(k.chunker, fixed.chunker);
  EXPECT_FALSE(unwrap_key_file(file, "wrong", k));
  KeyFileInfo info = parse_key_file_info(file, "x");
  EXPECT_EQ(info.hostname, "web209");
  EXPECT_EQ(info.username, "root");
  EXPECT_EQ(info.label, "node web209");
  EXPECT_EQ(info.created, 1700000000000000000);
  EXPECT_EQ(crypto::sha256(file).hex(), kKeyFileName);

  // From the spec: Argon2id wrap key, then AES-256-GCM with nonce 0.
  auto j = nlohmann::json::parse(kKeyFile);
  Bytes salt = H(j.at("salt").get<std::string>());
  crypto::KdfParams params{j.at("ops_limit").get<uint64_t>(), j.at("mem_limit").get<uint64_t>()};
  crypto::Key32 wrap = crypto::derive_key("correct horse battery staple", salt, params);
  EXPECT_EQ(to_hex(wrap), kWrapKey);
  Bytes plain;
  ASSERT_TRUE(crypto::Aead(wrap).open(crypto::counter_nonce(0), H(j.at("data").get<std::string>()),
                                      as_bytes("lifeboat key v1"), plain));
  Bytes expect;
  for (int i = 0; i < 96; ++i) expect.push_back(static_cast<uint8_t>(i));
  EXPECT_EQ(plain, expect);
}

// ---- chunking ----

// The cut rule exactly as FORMAT.md 13.2-13.3 states it.
uint64_t spec_mask(int ones) {
  uint64_t m = 0;
  for (int k = 0; k < ones; ++k) m |= uint64_t{1} << (63 - (k * 48) / ones);
  return m;
}
size_t spec_cut(const std::array<uint64_t, 256>& gear, const chunk::ChunkerParams& p, ByteView d) {
  int bits = 0;
  while ((uint32_t{1} << bits) != p.avg_size) ++bits;
  const uint64_t ms = spec_mask(bits + 2), ml = spec_mask(bits - 2);
  const size_t limit = std::min<size_t>(d.size(), p.max_size);
  uint64_t h = 0;
  for (size_t i = 0; i < limit; ++i) {
    h = (h << 1) + gear[d[i]];
    size_t len = i + 1;
    if (len < p.min_size) continue;
    if (len <= p.avg_size ? (h & ms) == 0 : (h & ml) == 0) return len;
  }
  return limit;
}

std::vector<size_t> chunk_all(const chunk::Chunker& c, ByteView data) {
  std::vector<size_t> out;
  for (size_t pos = 0; pos < data.size();) {
    size_t n = c.cut(data.subspan(pos), true);
    out.push_back(n);
    pos += n;
  }
  return out;
}

TEST(FormatChunking, GearTableMasksAndBoundaries) {
  chunk::GearTable gear(fixed_keys().chunker);
  crypto::IdHasher mac(fixed_keys().chunker);
  Bytes msg(as_bytes("lifeboat gear").begin(), as_bytes("lifeboat gear").end());
  msg.push_back(0);
  EXPECT_EQ(gear.values()[0], get_u64le(mac.mac(msg).bytes.data()));
  std::ostringstream g;
  for (int i = 0; i < 4; ++i) g << std::hex << gear.values()[i] << " ";
  EXPECT_EQ(g.str(), kGear);

  chunk::ChunkerParams def;
  chunk::Chunker c(gear, def);
  EXPECT_EQ(c.mask_small(), spec_mask(22));
  EXPECT_EQ(c.mask_large(), spec_mask(18));
  std::ostringstream m;
  m << std::hex << c.mask_small() << " " << c.mask_large();
  EXPECT_EQ(m.str(), kMasksDefault);

  Bytes buf = splitmix_bytes(16u << 20);
  EXPECT_EQ(to_hex(ByteView(buf).first(16)), kSplitmixFirst16);
  std::vector<size_t> lens = chunk_all(c, buf);
  std::ostringstream l;
  for (size_t n : lens) l << n << " ";
  EXPECT_EQ(l.str(), kChunksDefault);
  for (size_t pos = 0, i = 0; i < lens.size(); pos += lens[i++])
    EXPECT_EQ(spec_cut(gear.values(), def, ByteView(buf).subspan(pos)), lens[i]);

  chunk::ChunkerParams small{2048, 8192, 65536};
  chunk::Chunker cs(gear, small);
  std::ostringstream ms;
  ms << std::hex << cs.mask_small() << " " << cs.mask_large();
  EXPECT_EQ(ms.str(), kMasksSmall);
  ByteView head = ByteView(buf).first(256u << 10);
  std::vector<size_t> lens_small = chunk_all(cs, head);
  std::ostringstream ls;
  for (size_t n : lens_small) ls << n << " ";
  EXPECT_EQ(ls.str(), kChunksSmall);
  for (size_t pos = 0, i = 0; i < lens_small.size(); pos += lens_small[i++])
    EXPECT_EQ(spec_cut(gear.values(), small, head.subspan(pos)), lens_small[i]);
}

// ---- sizes and what readers reject ----

TEST(FormatConstants, SizesAndMemoryBudget) {
  EXPECT_EQ(kPackHeaderSize, 4u);
  EXPECT_EQ(kPackFooterSize, 40u);
  EXPECT_EQ(kTrailerEntrySize, 46u);
  EXPECT_EQ(crypto::kTagSize, 16u);
  EXPECT_EQ(crypto::kNonceSize, 12u);
  EXPECT_EQ(crypto::kKdfSaltSize, 16u);
  EXPECT_EQ(Index::kBytesPerBlob, 48u);
}

// A sealed object built from the spec with a chosen salt and header.
Bytes seal_by_spec(const crypto::Key32& encryption_key, std::string_view context,
                   const PackSalt& salt, uint8_t compression, uint32_t raw_length, ByteView body,
                   uint8_t version = 1) {
  Bytes out = {'L', 'B', 'O', version};
  append(out, salt);
  Bytes plain{compression, 0, 0, 0, 0};
  put_u32le(&plain[1], raw_length);
  append(plain, body);
  Bytes aad = {'L', 'B', 'O', version};
  append(aad, as_bytes(context));
  crypto::Aead(crypto::hkdf_sha256(encryption_key, salt, "lifeboat object"))
      .seal(crypto::counter_nonce(0), plain, aad, out);
  return out;
}

TEST(FormatVersioning, SealedObjectBuiltFromTheSpec) {
  const MasterKeys keys = fixed_keys();
  Bytes obj = seal_by_spec(keys.encryption, "index", fixed_salt(), 0, 4, H("00000000"));
  EXPECT_EQ(to_hex(obj), X(kSealedEmptySegment));
  EXPECT_TRUE(decode_index_segment(keys.encryption, obj, "vector").empty());
}

TEST(FormatVersioning, ReadersReject) {
  const MasterKeys keys = fixed_keys();
  const auto& ek = keys.encryption;
  auto rejects = [](auto&& fn) {
    try {
      fn();
      return false;
    } catch (const Error& e) {
      return e.code() == ErrorCode::kCorrupt;
    }
  };
  Bytes payload = H("00000000");
  // Sealed objects: unknown envelope version, unknown compression, wrong
  // raw length, wrong context.
  EXPECT_TRUE(rejects([&] {
    open_object(ek, "index", seal_by_spec(ek, "index", fixed_salt(), 0, 4, payload, 2), "v");
  }));
  EXPECT_TRUE(rejects([&] {
    open_object(ek, "index", seal_by_spec(ek, "index", fixed_salt(), 2, 4, payload), "v");
  }));
  EXPECT_TRUE(rejects([&] {
    open_object(ek, "index", seal_by_spec(ek, "index", fixed_salt(), 0, 5, payload), "v");
  }));
  EXPECT_TRUE(rejects([&] {
    open_object(ek, "config", seal_by_spec(ek, "index", fixed_salt(), 0, 4, payload), "v");
  }));
  // Config: version other than 1, unknown chunker. Not damage (a reader
  // must not read on with defaults, as it does past a damaged config): a
  // format this lifeboat does not know.
  auto unsupported = [](auto&& fn) {
    try {
      fn();
      return false;
    } catch (const Error& e) {
      return e.code() == ErrorCode::kNotARepository &&
             e.message().find("upgrade lifeboat") != std::string::npos;
    }
  };
  std::string cfg(kConfigJson);
  std::string v2 = cfg;
  v2.replace(v2.find("\"version\":1"), 11, "\"version\":2");
  EXPECT_TRUE(unsupported([&] {
    decode_config(ek, seal_by_spec(ek, "config", fixed_salt(), 0, v2.size(), as_bytes(v2)));
  }));
  std::string other = cfg;
  other.replace(other.find("fastcdc-gear-v1"), 15, "fastcdc-gear-v2");
  EXPECT_TRUE(unsupported([&] {
    decode_config(ek, seal_by_spec(ek, "config", fixed_salt(), 0, other.size(), as_bytes(other)));
  }));
  EXPECT_NO_THROW(
      decode_config(ek, seal_by_spec(ek, "config", fixed_salt(), 0, cfg.size(), as_bytes(cfg))));
  // Key files: version other than 1, kdf other than argon2id.
  std::string key(kKeyFile);
  std::string kv2 = key;
  kv2.replace(kv2.find("\"version\": 1"), 12, "\"version\": 2");
  MasterKeys k;
  EXPECT_TRUE(rejects([&] { unwrap_key_file(as_bytes(kv2), "correct horse battery staple", k); }));
  std::string kdf = key;
  kdf.replace(kdf.find("argon2id"), 8, "argon2i_");
  EXPECT_TRUE(rejects([&] { unwrap_key_file(as_bytes(kdf), "correct horse battery staple", k); }));
  // Trees: version other than 1, node type outside 1..7, trailing bytes,
  // unsorted names.
  Bytes tree = H(kTreeEncoding);
  Bytes t2 = tree;
  t2[0] = 2;
  EXPECT_TRUE(rejects([&] { decode_tree(t2); }));
  Bytes t8 = tree;
  t8[8] = 8;  // type byte of the first node ("a.txt" is 1 + 1 + 5 bytes in)
  EXPECT_TRUE(rejects([&] { decode_tree(t8); }));
  EXPECT_EQ(tree[8], 1);
  Bytes tlong = tree;
  tlong.push_back(0);
  EXPECT_TRUE(rejects([&] { decode_tree(tlong); }));
  // A fifo named "b" and one named "a", every field zero but links = 1: name, type and flags,
  // mode uid gid, user group, mtime atime ctime, size device inode links, rdev, symlink,
  // xattr count, content count.
  const char* fifo_b = "0162 0600 000000 0000 000000 00000001 00 00 0000";
  const char* fifo_a = "0161 0600 000000 0000 000000 00000001 00 00 0000";
  EXPECT_EQ(decode_tree(H(std::string("0102") + fifo_a + fifo_b)).nodes.size(), 2u);
  EXPECT_TRUE(rejects([&] { decode_tree(H(std::string("0102") + fifo_b + fifo_a)); }));
  EXPECT_TRUE(rejects([&] { decode_tree(H(std::string("0102") + fifo_a + fifo_a)); }));
  // Packs: bad footer magic; trailer entry with unknown type or compression.
  Bytes pack = H(kPack);
  Id pack_id = I(kPackName);
  Bytes bad_footer = pack;
  bad_footer.back() = 2;
  EXPECT_TRUE(rejects([&] { parse_pack_footer(bad_footer, pack_id); }));
  for (int field = 0; field < 2; ++field) {
    auto blobs = fixed_blobs();
    if (field == 0)
      blobs[0].type = static_cast<BlobType>(2);
    else
      blobs[0].compression = static_cast<Compression>(2);
    Bytes p = build_pack(keys, fixed_salt(), blobs, nullptr, nullptr);
    PackFooter f = parse_pack_footer(p, pack_id);
    ByteView tr(p.data() + p.size() - kPackFooterSize - f.trailer_length, f.trailer_length);
    EXPECT_TRUE(rejects([&] { parse_pack_trailer(ek, f, tr, p.size(), pack_id); }));
  }
  // Index segments: entry with unknown type; trailing bytes.
  Bytes seg = H(kSegmentPayload);
  Bytes s_type = seg;
  s_type[4 + 68] = 2;
  EXPECT_TRUE(rejects([&] {
    decode_index_segment(ek, seal_by_spec(ek, "index", fixed_salt(), 0, s_type.size(), s_type),
                         "v");
  }));
  Bytes s_long = seg;
  s_long.push_back(0);
  EXPECT_TRUE(rejects([&] {
    decode_index_segment(ek, seal_by_spec(ek, "index", fixed_salt(), 0, s_long.size(), s_long),
                         "v");
  }));
}

TEST(FormatCompression, SkipRule) {
  Bytes z;
  Bytes small(63, 'a');
  EXPECT_EQ(compress(small, z, CompressOptions{3}), Compression::kNone);  // under 64 bytes
  Bytes big(64, 'a');
  EXPECT_EQ(compress(big, z, CompressOptions{3}), Compression::kZstd);
  EXPECT_EQ(compress(big, z, CompressOptions{0}), Compression::kNone);  // level 0: off
  Bytes random = splitmix_bytes(4096);
  EXPECT_EQ(compress(random, z, CompressOptions{3}), Compression::kNone);  // saves < 1/32
}

// ---- docs and code never drift ----

std::string without_space(std::string_view text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  return out;
}

TEST(FormatDoc, EveryVectorAppearsInFormatMd) {
  const std::string path = std::string(LIFEBOAT_SOURCE_DIR) + "/docs/FORMAT.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = without_space(ss.str());
  const std::pair<const char*, std::string_view> vectors[] = {
      {"kBlobIdHello", kBlobIdHello},
      {"kBlobIdEmptyTree", kBlobIdEmptyTree},
      {"kSha256Hello", kSha256Hello},
      {"kPackSubkey", kPackSubkey},
      {"kObjectSubkey", kObjectSubkey},
      {"kStoredHello", kStoredHello},
      {"kTreeEncoding", kTreeEncoding},
      {"kDataZstd", kDataZstd},
      {"kTrailerPlain", kTrailerPlain},
      {"kPack", kPack},
      {"kPackName", kPackName},
      {"kSegmentPayload", kSegmentPayload},
      {"kSealedSegment", kSealedSegment},
      {"kSealedConfig", kSealedConfig},
      {"kConfigJson", kConfigJson},
      {"kSnapshotJson", kSnapshotJson},
      {"kSealedSnapshot", kSealedSnapshot},
      {"kSnapshotName", kSnapshotName},
      {"kKeyFile", kKeyFile},
      {"kKeyFileName", kKeyFileName},
      {"kWrapKey", kWrapKey},
      {"kSealedEmptySegment", kSealedEmptySegment},
      {"kGear", kGear},
      {"kMasksDefault", kMasksDefault},
      {"kMasksSmall", kMasksSmall},
      {"kSplitmixFirst16", kSplitmixFirst16},
      {"kChunksDefault", kChunksDefault},
      {"kChunksSmall", kChunksSmall},
  };
  for (const auto& [name, value] : vectors)
    EXPECT_NE(doc.find(without_space(value)), std::string::npos)
        << name << " is not in docs/FORMAT.md (or differs from it)";
}

}  // namespace
}  // namespace lifeboat::repo
