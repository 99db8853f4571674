#include "repo/snapshot.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/hex.h"
#include "repo/sealed.h"

namespace lifeboat::repo {

namespace {

// Paths and error paths are byte strings; JSON wants UTF-8, so anything else
// is stored hex-encoded under a "hex:" prefix.
// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF),
// exactly what the JSON writer accepts.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c < 0x80) n = 1;
    else if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return false;
    }
    i += n;
  }
  return true;
}
std::string encode_bytes(const std::string& s) {
  if (valid_utf8(s) && s.rfind("hex:", 0) != 0) return s;
  return "hex:" + to_hex(as_bytes(s));
}
std::string decode_bytes(const std::string& s) {
  if (s.rfind("hex:", 0) != 0) return s;
  auto raw = from_hex(std::string_view(s).substr(4));
  if (!raw) throw Error(ErrorCode::kCorrupt, "bad hex string in snapshot");
  return std::string(raw->begin(), raw->end());
}

}  // namespace

nlohmann::ordered_json summary_to_json(const SnapshotSummary& m) {
  return {{"started", format_rfc3339(m.started)},
          {"finished", format_rfc3339(m.finished)},
          {"files_new", m.files_new},
          {"files_changed", m.files_changed},
          {"files_unmodified", m.files_unmodified},
          {"dirs", m.dirs},
          {"other_entries", m.other_entries},
          {"bytes_total", m.bytes_total},
          {"bytes_read", m.bytes_read},
          {"blobs_added", m.blobs_added},
          {"bytes_added", m.bytes_added},
          {"bytes_stored", m.bytes_stored},
          {"errors", m.errors}};
}

std::string snapshot_to_json(const Snapshot& s) {
  nlohmann::ordered_json j;
  j["time"] = format_rfc3339(s.time);
  j["node"] = encode_bytes(s.node);
  j["account"] = encode_bytes(s.account);
  j["hostname"] = encode_bytes(s.hostname);
  j["username"] = encode_bytes(s.username);
  auto paths = nlohmann::json::array();
  for (const auto& p : s.paths) paths.push_back(encode_bytes(p));
  j["paths"] = paths;
  auto tags = nlohmann::json::array();
  for (const auto& t : s.tags) tags.push_back(encode_bytes(t));
  j["tags"] = tags;
  j["tree"] = s.tree.hex();
  if (s.parent) j["parent"] = s.parent->hex();
  j["partial"] = s.partial;
  auto errs = nlohmann::json::array();
  for (const auto& p : s.error_paths) errs.push_back(encode_bytes(p));
  j["error_paths"] = errs;
  j["summary"] = summary_to_json(s.summary);
  j["program_version"] = s.program_version;
  return j.dump();
}

Snapshot snapshot_from_json(std::string_view text, const std::string& what) {
  try {
    auto j = nlohmann::json::parse(text);
    Snapshot s;
    s.time = parse_rfc3339(j.at("time").get<std::string>());
    s.node = decode_bytes(j.value("node", ""));
    s.account = decode_bytes(j.value("account", ""));
    s.hostname = decode_bytes(j.value("hostname", ""));
    s.username = decode_bytes(j.value("username", ""));
    for (const auto& p : j.at("paths")) s.paths.push_back(decode_bytes(p.get<std::string>()));
    for (const auto& t : j.value("tags", nlohmann::json::array()))
      s.tags.push_back(decode_bytes(t.get<std::string>()));
    auto tree = Id::from_hex(j.at("tree").get<std::string>());
    if (!tree) throw Error(ErrorCode::kCorrupt, what + " has a bad tree id");
    s.tree = *tree;
    if (j.contains("parent")) {
      s.parent = Id::from_hex(j["parent"].get<std::string>());
      if (!s.parent) throw Error(ErrorCode::kCorrupt, what + " has a bad parent id");
    }
    s.partial = j.value("partial", false);
    for (const auto& p : j.value("error_paths", nlohmann::json::array()))
      s.error_paths.push_back(decode_bytes(p.get<std::string>()));
    if (j.contains("summary")) {
      const auto& m = j["summary"];
      auto& o = s.summary;
      o.started = parse_rfc3339(m.value("started", "1970-01-01T00:00:00Z"));
      o.finished = parse_rfc3339(m.value("finished", "1970-01-01T00:00:00Z"));
      o.files_new = m.value("files_new", 0ull);
      o.files_changed = m.value("files_changed", 0ull);
      o.files_unmodified = m.value("files_unmodified", 0ull);
      o.dirs = m.value("dirs", 0ull);
      o.other_entries = m.value("other_entries", 0ull);
      o.bytes_total = m.value("bytes_total", 0ull);
      o.bytes_read = m.value("bytes_read", 0ull);
      o.blobs_added = m.value("blobs_added", 0ull);
      o.bytes_added = m.value("bytes_added", 0ull);
      o.bytes_stored = m.value("bytes_stored", 0ull);
      o.errors = m.value("errors", 0ull);
    }
    s.program_version = j.value("program_version", "");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, what + " is damaged (" + e.what() + ")");
  } catch (const Error& e) {  // bad times, bad hex: the object is damaged
    throw Error(ErrorCode::kCorrupt, what + " is damaged (" + e.message() + ")");
  }
}

Bytes encode_snapshot(const crypto::Key32& encryption_key, const Snapshot& s) {
  return seal_object(encryption_key, "snapshot", as_bytes(snapshot_to_json(s)));
}

Snapshot decode_snapshot(const crypto::Key32& encryption_key, ByteView sealed,
                         const std::string& name) {
  std::string what = "snapshot " + name;
  Bytes plain = open_object(encryption_key, "snapshot", sealed, what);
  return snapshot_from_json(as_chars(plain), what);
}

}  // namespace lifeboat::repo
