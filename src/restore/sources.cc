#include "restore/sources.h"

#include <algorithm>
#include <chrono>

#include "restore/retry.h"

namespace lifeboat::restore {
namespace {

// Weight of the past in the speed averages: recent reads count most, so a
// repository that slows down (or recovers) is noticed within a few reads.
constexpr double kDecay = 0.8;

using Clock = std::chrono::steady_clock;

}  // namespace

SourceStats& SourceStats::operator+=(const SourceStats& more) {
  bytes += more.bytes;
  reads += more.reads;
  failures += more.failures;
  fallbacks += more.fallbacks;
  read_seconds += more.read_seconds;
  busy_seconds += more.busy_seconds;
  planned = planned || more.planned;
  return *this;
}

SourceSpeeds::SourceSpeeds(size_t n) : entries_(n) {}

void SourceSpeeds::read_done(size_t s, uint64_t bytes, double seconds) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[s];
  e.bytes = e.bytes * kDecay + static_cast<double>(bytes);
  e.seconds = e.seconds * kDecay + std::max(seconds, 1e-6);
  e.unreachable_in_a_row = 0;
}

void SourceSpeeds::unreachable(size_t s) {
  std::lock_guard lock(mu_);
  ++entries_[s].unreachable_in_a_row;
}

bool SourceSpeeds::down(size_t s) const {
  std::lock_guard lock(mu_);
  return entries_[s].unreachable_in_a_row >= kDownAfter;
}

double SourceSpeeds::stream_rate(size_t s) const {
  std::lock_guard lock(mu_);
  const Entry& e = entries_[s];
  return e.seconds > 0 ? e.bytes / e.seconds : 0;
}

bool SourceSpeeds::should_take(size_t s, uint64_t bytes, uint64_t remaining,
                               size_t fetchers) const {
  std::lock_guard lock(mu_);
  const Entry& me = entries_[s];
  if (me.unreachable_in_a_row >= kDownAfter) return false;
  if (me.seconds <= 0) return true;  // not measured yet: every repository starts equal
  double others = 0, best = 0;
  for (size_t q = 0; q < entries_.size(); ++q) {
    const Entry& e = entries_[q];
    if (q == s || e.unreachable_in_a_row >= kDownAfter) continue;
    if (e.seconds <= 0) return true;  // another one is still being measured
    const double rate = e.bytes / e.seconds;
    others += rate * static_cast<double>(std::max<size_t>(1, fetchers));
    best = std::max(best, rate);
  }
  if (others <= 0) return true;  // the only usable one
  const double mine = static_cast<double>(bytes) / (me.bytes / me.seconds);
  const double theirs = std::max(static_cast<double>(remaining) / others,
                                 static_cast<double>(bytes) / best);
  return mine <= theirs;
}

std::vector<size_t> SourceSpeeds::preference() const {
  std::lock_guard lock(mu_);
  std::vector<size_t> order(entries_.size());
  for (size_t s = 0; s < order.size(); ++s) order[s] = s;
  auto key = [&](size_t s) {
    const Entry& e = entries_[s];
    const bool is_down = e.unreachable_in_a_row >= kDownAfter;
    const double rate = e.seconds > 0 ? e.bytes / e.seconds : 1e300;
    return std::make_pair(is_down, -rate);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return key(a) < key(b); });
  return order;
}

struct Sources::Counters {
  std::mutex mu;
  SourceStats stats;  // location filled by stats()
  int inflight = 0;
  Clock::time_point busy_since;
};

Sources::Sources(repo::Repository& primary) : Sources(std::vector<repo::Repository*>{&primary}) {}

Sources::Sources(std::vector<repo::Repository*> repos)
    : repos_(std::move(repos)),
      speeds_(repos_.size()),
      counters_(new Counters[repos_.size()]),
      bad_packs_(repos_.size()) {
  if (repos_.empty()) throw Error(ErrorCode::kInternal, "a restore needs a repository");
}

Sources::~Sources() = default;

repo::Tree Sources::load_tree(const Id& id) const {
  try {
    return with_retries(RetryPolicy{}, [&] { return repos_[0]->load_tree(id); });
  } catch (const Error& first) {
    for (size_t s = 1; s < repos_.size(); ++s) {
      try {
        repo::Tree tree = with_retries(RetryPolicy{}, [&] { return repos_[s]->load_tree(id); });
        counters_[s].mu.lock();
        ++counters_[s].stats.fallbacks;
        counters_[s].mu.unlock();
        return tree;
      } catch (const Error&) {
      }
    }
    throw;
  }
}

std::optional<Sources::Located> Sources::locate(const Id& blob, size_t first) const {
  if (repos_.size() == 1) {
    if (auto loc = repos_[0]->locate(blob)) return Located{0, *loc};
    return std::nullopt;
  }
  // `first`, then the others in order.
  auto nth = [&](size_t k) { return k == 0 ? first : (k <= first ? k - 1 : k); };
  // Indexes first (memory lookups), trailer searches (reads) only after.
  for (size_t k = 0; k < repos_.size(); ++k)
    if (auto loc = repos_[nth(k)]->index().find(blob))
      return Located{static_cast<uint32_t>(nth(k)), *loc};
  for (size_t k = 0; k < repos_.size(); ++k)
    if (auto loc = repos_[nth(k)]->locate(blob))
      return Located{static_cast<uint32_t>(nth(k)), *loc};
  return std::nullopt;
}

size_t Sources::most_compact(const std::vector<Id>& blobs) const {
  if (repos_.size() == 1) return 0;
  size_t best = 0, best_found = 0, best_packs = 0;
  std::unordered_set<Id, IdHash> packs;
  for (size_t s = 0; s < repos_.size(); ++s) {
    packs.clear();
    size_t found = 0;
    for (const Id& blob : blobs) {
      auto loc = repos_[s]->index().find(blob);
      if (!loc) continue;
      ++found;
      packs.insert(loc->pack);
    }
    if (s == 0 || found > best_found || (found == best_found && packs.size() < best_packs)) {
      best = s;
      best_found = found;
      best_packs = packs.size();
    }
  }
  return best;
}

void Sources::mark_bad_pack(size_t s, const Id& pack) {
  std::lock_guard lock(bad_mu_);
  bad_packs_[s].insert(pack);
}

bool Sources::bad_pack(size_t s, const Id& pack) const {
  std::lock_guard lock(bad_mu_);
  return bad_packs_[s].count(pack) > 0;
}

void Sources::count_read(size_t s, uint64_t bytes, double seconds, bool fallback) {
  Counters& c = counters_[s];
  std::lock_guard lock(c.mu);
  c.stats.bytes += bytes;
  ++c.stats.reads;
  c.stats.read_seconds += seconds;
  if (fallback) ++c.stats.fallbacks;
}

void Sources::count_failure(size_t s) {
  Counters& c = counters_[s];
  std::lock_guard lock(c.mu);
  ++c.stats.failures;
}

void Sources::read_begins(size_t s) {
  Counters& c = counters_[s];
  std::lock_guard lock(c.mu);
  if (c.inflight++ == 0) c.busy_since = Clock::now();
}

void Sources::read_ends(size_t s) {
  Counters& c = counters_[s];
  std::lock_guard lock(c.mu);
  if (--c.inflight == 0)
    c.stats.busy_seconds += std::chrono::duration<double>(Clock::now() - c.busy_since).count();
}

void Sources::set_planned(size_t s) {
  Counters& c = counters_[s];
  std::lock_guard lock(c.mu);
  c.stats.planned = true;
}

std::vector<SourceStats> Sources::stats() const {
  std::vector<SourceStats> out;
  for (size_t s = 0; s < repos_.size(); ++s) {
    Counters& c = counters_[s];
    std::lock_guard lock(c.mu);
    out.push_back(c.stats);
    out.back().location = repos_[s]->location();
  }
  return out;
}

}  // namespace lifeboat::restore
