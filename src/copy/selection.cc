#include "copy/selection.h"

#include <algorithm>
#include <map>

namespace lifeboat::copy {

namespace {

bool any_of(const std::vector<std::string>& wanted, const std::string& value) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
}

bool has_tag(const std::vector<std::string>& wanted, const std::vector<std::string>& tags) {
  if (wanted.empty()) return true;
  for (const auto& t : tags)
    if (std::find(wanted.begin(), wanted.end(), t) != wanted.end()) return true;
  return false;
}

// Length-prefixed, so no byte inside a field can make two keys collide.
void append_field(std::string& key, std::string_view field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

}  // namespace

SnapshotList select_snapshots(const SnapshotList& all, const SnapshotFilter& filter) {
  SnapshotList out;
  for (const auto& entry : all) {
    const repo::Snapshot& s = entry.second;
    if (any_of(filter.nodes, s.node) && any_of(filter.accounts, s.account) &&
        has_tag(filter.tags, s.tags))
      out.push_back(entry);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second.time < b.second.time; });
  if (filter.latest <= 0) return out;
  // Newest N per (node, account): count from the newest end.
  std::map<std::pair<std::string, std::string>, int> seen;
  std::vector<bool> keep(out.size(), false);
  for (size_t i = out.size(); i-- > 0;) {
    int& n = seen[{out[i].second.node, out[i].second.account}];
    if (n < filter.latest) keep[i] = true;
    ++n;
  }
  SnapshotList newest;
  for (size_t i = 0; i < out.size(); ++i)
    if (keep[i]) newest.push_back(std::move(out[i]));
  return newest;
}

std::string snapshot_identity(const repo::Snapshot& s) {
  std::string key;
  append_field(key, std::to_string(s.time));
  append_field(key, s.node);
  append_field(key, s.account);
  append_field(key, s.hostname);
  append_field(key, std::to_string(s.paths.size()));
  for (const auto& p : s.paths) append_field(key, p);
  append_field(key, s.tree.hex());
  return key;
}

}  // namespace lifeboat::copy
