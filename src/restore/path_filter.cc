#include "restore/path_filter.h"

#include <fnmatch.h>

namespace lifeboat::restore {
namespace {

std::vector<PathFilter::Pattern> parse(const std::vector<std::string>& globs);

}  // namespace

PathFilter::PathFilter(const std::vector<std::string>& includes,
                       const std::vector<std::string>& excludes)
    : includes_(parse(includes)), excludes_(parse(excludes)) {}

bool PathFilter::excluded(const std::string& rel_path, const std::string& name) const {
  return matches(excludes_, rel_path, name);
}

bool PathFilter::included(const std::string& rel_path, const std::string& name) const {
  return matches(includes_, rel_path, name);
}

bool PathFilter::matches(const std::vector<Pattern>& patterns, const std::string& rel_path,
                         const std::string& name) {
  for (const Pattern& p : patterns) {
    if (fnmatch(p.glob.c_str(), rel_path.c_str(), 0) == 0) return true;
    if (!p.anchored && fnmatch(p.glob.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

namespace {

std::vector<PathFilter::Pattern> parse(const std::vector<std::string>& globs) {
  std::vector<PathFilter::Pattern> out;
  for (const std::string& g : globs) {
    if (g.empty()) continue;
    bool anchored = g.front() == '/';
    size_t start = anchored ? g.find_first_not_of('/') : 0;
    if (start == std::string::npos) continue;  // "/" alone names nothing
    std::string glob = g.substr(start);
    while (glob.size() > 1 && glob.back() == '/') glob.pop_back();  // "dir/" means "dir"
    if (glob.empty()) continue;
    out.push_back({std::move(glob), anchored});
  }
  return out;
}

}  // namespace
}  // namespace lifeboat::restore
