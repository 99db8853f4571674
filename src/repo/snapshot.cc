#include "repo/snapshot.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/hex.h"
#include "repo/sealed.h"

namespace lifeboat::repo {

namespace {

// Paths and error paths are byte strings; JSON wants UTF-8, so anything else
// is stored hex-encoded under a "hex:" prefix.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
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

std::string snapshot_to_json(const Snapshot& s) {
  nlohmann::ordered_json j;
  j["time"] = format_rfc3339(s.time);
  j["node"] = s.node;
  j["account"] = s.account;
  j["hostname"] = s.hostname;
  j["username"] = s.username;
  auto paths = nlohmann::json::array();
  for (const auto& p : s.paths) paths.push_back(encode_bytes(p));
  j["paths"] = paths;
  j["tags"] = s.tags;
  j["tree"] = s.tree.hex();
  if (s.parent) j["parent"] = s.parent->hex();
  j["partial"] = s.partial;
  auto errs = nlohmann::json::array();
  for (const auto& p : s.error_paths) errs.push_back(encode_bytes(p));
  j["error_paths"] = errs;
  const auto& m = s.summary;
  j["summary"] = {{"started", format_rfc3339(m.started)},
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
  j["program_version"] = s.program_version;
  return j.dump();
}

Snapshot snapshot_from_json(std::string_view text, const std::string& what) {
  try {
    auto j = nlohmann::json::parse(text);
    Snapshot s;
    s.time = parse_rfc3339(j.at("time").get<std::string>());
    s.node = j.value("node", "");
    s.account = j.value("account", "");
    s.hostname = j.value("hostname", "");
    s.username = j.value("username", "");
    for (const auto& p : j.at("paths")) s.paths.push_back(decode_bytes(p.get<std::string>()));
    s.tags = j.value("tags", std::vector<std::string>{});
    auto tree = Id::from_hex(j.at("tree").get<std::string>());
    if (!tree) throw Error(ErrorCode::kCorrupt, what + " has a bad tree id");
    s.tree = *tree;
    if (j.contains("parent")) s.parent = Id::from_hex(j["parent"].get<std::string>());
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
