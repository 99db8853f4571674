#include "cli/restore_repos.h"

#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <thread>

#include "base/error.h"

namespace lifeboat::cli {

std::vector<repo::Repository*> RestoreRepos::more() const {
  std::vector<repo::Repository*> out;
  for (size_t i = 1; i < repos.size(); ++i) out.push_back(repos[i].get());
  return out;
}

void RestoreRepos::choose_primary(const std::function<bool(repo::Repository&)>& has) {
  std::optional<Error> first_error;
  for (size_t i = 0; i < repos.size(); ++i) {
    try {
      if (!has(*repos[i])) continue;
    } catch (const Error& e) {
      if (!first_error) first_error = e;
      continue;
    }
    std::rotate(repos.begin(), repos.begin() + static_cast<ptrdiff_t>(i),
                repos.begin() + static_cast<ptrdiff_t>(i) + 1);
    // Blob ids are keyed MACs: a repository with another id key names the
    // same content differently, so none of its blobs would ever match.
    for (size_t k = 1; k < repos.size();) {
      if (repos[k]->keys().id == primary().keys().id) {
        ++k;
        continue;
      }
      std::string why = "it does not share blob ids with " + primary().location() +
                        " (another id key): not used. Only copies made by 'lifeboat copy' into "
                        "a repository created with 'lifeboat init --copy-params-from' can serve "
                        "one restore together";
      print_warning("repository " + repos[k]->location() + ": " + why);
      unusable.emplace_back(repos[k]->location(), why);
      repos.erase(repos.begin() + static_cast<ptrdiff_t>(k));
    }
    return;
  }
  if (first_error) throw *first_error;
}

RestoreRepos open_restore_repos(const GlobalOptions& g) {
  RestoreRepos out;
  const std::vector<std::string> locations = repository_locations(g);
  if (locations.size() == 1 && g.repo_password_files.empty()) {
    out.repos.push_back(open_repository(g, true));
    return out;
  }
  out.several = locations.size() > 1;
  if (g.repo_password_files.size() > locations.size())
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("--repo-password-file was given {} times for {} --repo; give at most "
                            "one per --repo, in the same order",
                            g.repo_password_files.size(), locations.size()));

  // The common password is read once, before any thread starts (one prompt).
  std::string common;
  for (size_t i = 0; i < locations.size(); ++i)
    if (i >= g.repo_password_files.size() || g.repo_password_files[i].empty()) {
      common = get_password(g, false);
      break;
    }

  std::vector<std::unique_ptr<repo::Repository>> opened(locations.size());
  std::vector<std::optional<Error>> errors(locations.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < locations.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        const bool own = i < g.repo_password_files.size() && !g.repo_password_files[i].empty();
        opened[i] = open_repository_at(g, locations[i], true, [&] {
          return own ? password_from_file(g.repo_password_files[i], "--repo-password-file")
                     : common;
        });
      } catch (const Error& e) {
        errors[i] = e;
      } catch (const std::exception& e) {
        errors[i] = Error(ErrorCode::kIo, e.what());
      }
    });
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < locations.size(); ++i) {
    if (opened[i]) {
      out.repos.push_back(std::move(opened[i]));
      continue;
    }
    out.unusable.emplace_back(locations[i], errors[i]->message());
  }
  if (out.repos.empty()) {
    // Nothing to restore from: the first one's error says why.
    for (auto& e : errors)
      if (e) throw *e;
  }
  for (const auto& [location, why] : out.unusable)
    print_warning("repository " + location + " cannot be used, restoring from the others: " + why);
  return out;
}

Json restore_repos_json(const RestoreRepos& r, const std::vector<restore::SourceStats>& stats) {
  Json list = Json::array();
  for (size_t i = 0; i < stats.size(); ++i) {
    const restore::SourceStats& s = stats[i];
    list.push_back(Json{{"location", s.location},
                        {"primary", i == 0},
                        {"planned", s.planned},
                        {"bytes", s.bytes},
                        {"reads", s.reads},
                        {"failures", s.failures},
                        {"fallbacks", s.fallbacks},
                        {"mb_per_s", s.mb_per_s()},
                        {"error", nullptr}});
  }
  for (const auto& [location, why] : r.unusable)
    list.push_back(Json{{"location", location},
                        {"primary", false},
                        {"planned", false},
                        {"bytes", 0},
                        {"reads", 0},
                        {"failures", 0},
                        {"fallbacks", 0},
                        {"mb_per_s", 0},
                        {"error", why}});
  return list;
}

std::string restore_repos_text(const RestoreRepos& r,
                               const std::vector<restore::SourceStats>& stats) {
  std::string text;
  for (size_t i = 0; i < stats.size(); ++i) {
    const restore::SourceStats& s = stats[i];
    const char* role = i == 0 ? (s.planned ? " (primary, reads planned here)" : " (primary)")
                              : (s.planned ? " (reads planned here)" : "");
    text += fmt::format("from {}{}: {} in {} reads at {:.1f} MB/s, {} failed, {} fallbacks\n",
                        s.location, role, format_bytes(s.bytes), s.reads,
                        s.mb_per_s(), s.failures, s.fallbacks);
  }
  for (const auto& [location, why] : r.unusable)
    text += fmt::format("not used: {}: {}\n", location, one_line(why));
  return text;
}

}  // namespace lifeboat::cli
