// Include/exclude glob patterns over paths relative to the snapshot root
// ("public_html/index.php"). A pattern matches an entry if fnmatch (without
// FNM_PATHNAME, so '*' also matches '/') matches the whole relative path or
// the entry's base name. A pattern starting with '/' is anchored: it is
// matched against the relative path only (without the '/').
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lifeboat::restore {

class PathFilter {
 public:
  PathFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes);

  bool has_includes() const { return !includes_.empty(); }
  bool excluded(const std::string& rel_path, const std::string& name) const;
  bool included(const std::string& rel_path, const std::string& name) const;

  struct Pattern {
    std::string glob;
    bool anchored;  // match the relative path only, not the base name
  };

 private:
  static bool matches(const std::vector<Pattern>& patterns, const std::string& rel_path,
                      const std::string& name);
  std::vector<Pattern> includes_;
  std::vector<Pattern> excludes_;
};

}  // namespace lifeboat::restore
