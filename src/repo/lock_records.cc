#include "repo/lock_records.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <map>
#include <set>
#include <mutex>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/hex.h"
#include "base/thread_pool.h"
#include "crypto/random.h"
#include "repo/sealed.h"

namespace lifeboat::repo {

namespace {

constexpr std::string_view kContext = "lock";

const char* kind_name(LockKind k) {
  switch (k) {
    case LockKind::kWriter: return "writer";
    case LockKind::kPrune: return "prune";
    case LockKind::kPlan: return "plan";
  }
  return "?";
}

std::string own_pid_namespace() {
  char buf[128];
  ssize_t n = readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Field 22 of /proc/PID/stat (start time in clock ticks after boot); "" if
// the process does not exist. The command name (field 2) may hold spaces
// and parentheses, so fields are counted after its last ')'.
std::string start_ticks(int64_t pid) {
  std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return field;
  }
  return "";
}

std::string boot_id() { return read_first_line("/proc/sys/kernel/random/boot_id"); }

std::string own_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

nlohmann::json ids_to_json(const std::vector<Id>& ids) {
  auto a = nlohmann::json::array();
  for (const Id& id : ids) a.push_back(id.hex());
  return a;
}

std::vector<Id> ids_from_json(const nlohmann::json& a, const std::string& what) {
  std::vector<Id> out;
  if (!a.is_array()) return out;
  out.reserve(a.size());
  for (const auto& v : a) {
    auto id = v.is_string() ? Id::from_hex(v.get<std::string>()) : std::nullopt;
    if (!id) throw Error(ErrorCode::kCorrupt, what + ": malformed id");
    out.push_back(*id);
  }
  return out;
}

}  // namespace

std::string LockRecord::name() const {
  char seqhex[17];
  std::snprintf(seqhex, sizeof seqhex, "%016llx", static_cast<unsigned long long>(seq));
  return run + seqhex;
}

std::string new_run_id() { return to_hex(crypto::random_bytes(24)); }

void fill_process_identity(LockRecord& r) {
  r.host = own_hostname();
  r.pid = static_cast<int64_t>(getpid());
  r.pid_namespace = own_pid_namespace();
  r.process_start = boot_id() + "/" + start_ticks(r.pid);
}

Bytes encode_lock_record(const crypto::Key32& encryption_key, const LockRecord& r) {
  nlohmann::json j;
  j["kind"] = kind_name(r.kind);
  j["run"] = r.run;
  j["seq"] = r.seq;
  j["time"] = r.time;
  j["started"] = r.started;
  j["host"] = r.host;
  j["pid_namespace"] = r.pid_namespace;
  j["pid"] = r.pid;
  j["process_start"] = r.process_start;
  j["what"] = r.what;
  if (r.kind == LockKind::kWriter) {
    j["ready"] = r.ready;
    j["plans"] = ids_to_json(r.plans);
  }
  if (r.kind == LockKind::kPlan) {
    j["plan_id"] = r.plan_id.hex();
    j["packs"] = ids_to_json(r.packs);
  }
  std::string text = j.dump();
  return seal_object(encryption_key, kContext, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

LockRecord decode_lock_record(const crypto::Key32& encryption_key, ByteView sealed, const std::string& name) {
  const std::string what = "lock record " + name;
  Bytes plain = open_object(encryption_key, kContext, sealed, what);
  LockRecord r;
  try {
    auto j = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(plain.data()), plain.size()));
    std::string kind = j.at("kind").get<std::string>();
    if (kind == "writer") r.kind = LockKind::kWriter;
    else if (kind == "prune") r.kind = LockKind::kPrune;
    else if (kind == "plan") r.kind = LockKind::kPlan;
    else throw Error(ErrorCode::kCorrupt, what + ": unknown kind '" + kind + "'");
    r.run = j.at("run").get<std::string>();
    r.seq = j.at("seq").get<uint64_t>();
    r.time = j.at("time").get<int64_t>();
    r.started = j.value("started", int64_t{0});
    r.host = j.value("host", "");
    r.pid_namespace = j.value("pid_namespace", "");
    r.pid = j.value("pid", int64_t{0});
    r.process_start = j.value("process_start", "");
    r.what = j.value("what", "");
    r.ready = j.value("ready", false);
    if (j.contains("plans")) r.plans = ids_from_json(j["plans"], what);
    if (r.kind == LockKind::kPlan) {
      auto id = Id::from_hex(j.at("plan_id").get<std::string>());
      if (!id) throw Error(ErrorCode::kCorrupt, what + ": malformed plan id");
      r.plan_id = *id;
      r.packs = ids_from_json(j.at("packs"), what);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, what + " does not parse: " + e.what());
  }
  // The name is not authenticated by the content otherwise: a record moved
  // to another name would impersonate another run.
  if (r.name() != name) throw Error(ErrorCode::kCorrupt, what + " does not match its name");
  return r;
}

std::optional<std::pair<std::string, uint64_t>> parse_lock_name(std::string_view name) {
  if (name.size() != 64) return std::nullopt;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  uint64_t seq = std::stoull(std::string(name.substr(48)), nullptr, 16);
  return std::make_pair(std::string(name.substr(0, 48)), seq);
}

std::vector<LockRecord> LockDirectory::latest(LockKind kind) const {
  std::map<std::string, const LockRecord*> newest;
  for (const auto& r : records) {
    if (r.kind != kind) continue;
    auto& slot = newest[r.run];
    if (!slot || slot->seq < r.seq) slot = &r;
  }
  std::vector<LockRecord> out;
  for (const auto& [run, r] : newest) out.push_back(*r);
  return out;
}

std::vector<LockRecord> LockDirectory::plans() const { return latest(LockKind::kPlan); }

LockDirectory read_lock_directory(backend::Backend& backend, const crypto::Key32& encryption_key) {
  LockDirectory dir;
  std::set<std::string> seen;
  // A record that vanishes between the listing and its read was renewed
  // (its successor is written before it is removed) or its run ended: list
  // again until nothing vanishes, or a renewing writer would look absent.
  for (int pass = 0;; ++pass) {
    std::vector<std::string> names;
    backend.list(backend::ObjectType::kLock, [&](std::string_view name, uint64_t) {
      if (!seen.count(std::string(name))) names.emplace_back(name);
    });
    std::sort(names.begin(), names.end());
    std::vector<std::optional<LockRecord>> loaded(names.size());
    std::vector<char> bad(names.size(), 0), vanished(names.size(), 0);
    ThreadPool pool(std::min<size_t>(8, std::max<size_t>(1, names.size())));
    for (size_t i = 0; i < names.size(); ++i) {
      pool.submit([&, i] {
        const std::string& name = names[i];
        try {
          if (!parse_lock_name(name)) throw Error(ErrorCode::kCorrupt, "not a record name");
          Bytes sealed = backend.load({backend::ObjectType::kLock, name});
          loaded[i] = decode_lock_record(encryption_key, sealed, name);
        } catch (const Error& e) {
          if (e.code() == ErrorCode::kNotFound) {
            vanished[i] = 1;
            return;
          }
          if (e.code() != ErrorCode::kCorrupt) throw;
          bad[i] = 1;
        }
      });
    }
    pool.wait();
    bool any_vanished = false;
    for (size_t i = 0; i < names.size(); ++i) {
      seen.insert(names[i]);
      if (vanished[i]) {
        any_vanished = true;
        continue;
      }
      dir.names.push_back(names[i]);
      if (loaded[i]) dir.records.push_back(std::move(*loaded[i]));
      if (bad[i]) dir.unreadable.push_back(names[i]);
    }
    if (!any_vanished) break;
    if (pass >= 100)
      throw Error(ErrorCode::kUnavailable, "the records under locks/ of " + backend.location() +
                                               " keep changing while being read; try again");
  }
  std::sort(dir.names.begin(), dir.names.end());
  return dir;
}

bool process_certainly_gone(const LockRecord& r) {
  if (r.pid <= 0 || r.host.empty() || r.pid_namespace.empty()) return false;
  if (r.host != own_hostname() || r.pid_namespace != own_pid_namespace()) return false;
  if (r.pid == static_cast<int64_t>(getpid())) return false;
  if (kill(static_cast<pid_t>(r.pid), 0) != 0 && errno == ESRCH) return true;
  // The pid exists: the writer's, or a later process's that reuses it.
  const size_t slash = r.process_start.find('/');
  if (slash == std::string::npos) return false;
  if (r.process_start.substr(0, slash) != boot_id()) return true;  // booted since
  const std::string now = start_ticks(r.pid);
  return !now.empty() && now != r.process_start.substr(slash + 1);
}

bool lock_record_stale(const LockRecord& r, UnixNanos now, int64_t stale_after_ns) {
  return process_certainly_gone(r) || now - r.time > stale_after_ns;
}

}  // namespace lifeboat::repo
