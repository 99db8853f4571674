#include "node/restore_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/hex.h"

namespace lifeboat::node {
namespace {

constexpr const char* kMagic = "lifeboat-node-restore 1";

std::string hex_of(const std::string& s) {
  return to_hex(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::optional<std::string> unhex(const std::string& s) {
  auto bytes = from_hex(s);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

void write_file_durably(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw_errno("write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno("sync " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp + " to " + path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

Error corrupt(const std::string& dir, const std::string& what) {
  return Error(ErrorCode::kCorrupt,
               "node restore state in " + dir + " is damaged (" + what +
                   "); start over with --restart");
}

}  // namespace

bool RestoreJournal::exists(const std::string& dir) {
  struct stat st;
  return ::stat((dir + "/plan").c_str(), &st) == 0;
}

void RestoreJournal::discard(const std::string& dir) {
  for (const char* name : {"plan", "plan.tmp", "journal", "timeline.json", "timeline.csv"}) {
    const std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
  }
}

RestoreJournal::RestoreJournal(std::string dir, std::string node, std::vector<Entry> plan)
    : dir_(std::move(dir)), node_(std::move(node)), plan_(std::move(plan)) {}

RestoreJournal::RestoreJournal(RestoreJournal&& other) noexcept
    : dir_(std::move(other.dir_)),
      node_(std::move(other.node_)),
      plan_(std::move(other.plan_)),
      ready_(std::move(other.ready_)),
      online_(std::move(other.online_)),
      fd_(other.fd_) {
  other.fd_ = -1;
}

RestoreJournal::~RestoreJournal() {
  if (fd_ >= 0) ::close(fd_);
}

RestoreJournal RestoreJournal::start(const std::string& dir, const std::string& node,
                                     std::vector<Entry> plan) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(error_code_from_errno(ec.value()),
                "cannot create the node restore state directory " + dir + ": " + ec.message());
  std::string text = std::string(kMagic) + "\nnode " + hex_of(node) + "\n";
  for (const Entry& e : plan) text += "account " + hex_of(e.account) + " " + e.snapshot.hex() + "\n";
  // A fresh journal before the plan that names it: a plan never pairs with
  // an older run's journal.
  const std::string journal = dir + "/journal";
  if (::unlink(journal.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + journal);
  write_file_durably(dir, "plan", text);
  RestoreJournal j(dir, node, std::move(plan));
  j.open_for_append();
  return j;
}

RestoreJournal RestoreJournal::load(const std::string& dir) {
  std::ifstream in(dir + "/plan");
  if (!in)
    throw Error(ErrorCode::kNotFound, "no node restore state in " + dir + " to resume");
  std::string line;
  if (!std::getline(in, line) || line != kMagic) throw corrupt(dir, "plan has no header");
  std::string node;
  std::vector<Entry> plan;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, a, b;
    words >> kind >> a >> b;
    if (kind == "node") {
      auto n = unhex(a);
      if (!n) throw corrupt(dir, "bad node line");
      node = *n;
    } else if (kind == "account") {
      auto name = unhex(a);
      auto id = Id::from_hex(b);
      if (!name || !id) throw corrupt(dir, "bad account line");
      plan.push_back(Entry{*name, *id});
    } else {
      throw corrupt(dir, "unknown plan line");
    }
  }
  RestoreJournal j(dir, node, std::move(plan));
  std::ifstream journal(dir + "/journal", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(journal)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) break;  // torn by a kill: not an event
    std::istringstream words(all.substr(pos, end - pos));
    pos = end + 1;
    std::string kind, a;
    words >> kind >> a;
    auto name = unhex(a);
    if (!name) continue;
    if (kind == "ready") j.ready_.insert(*name);
    if (kind == "online") j.online_.insert(*name);
  }
  j.open_for_append();
  return j;
}

void RestoreJournal::open_for_append() {
  const std::string path = dir_ + "/journal";
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw_errno("open " + path);
  // A torn last line would glue onto the next event: end it.
  struct stat st;
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (::pread(rfd, &last, 1, st.st_size - 1) != 1) last = '\n';
      ::close(rfd);
    }
    if (last != '\n' && ::write(fd_, "\n", 1) != 1) throw_errno("write " + path);
  }
}

bool RestoreJournal::ready(const std::string& account) const {
  std::lock_guard lock(mu_);
  return ready_.count(account) > 0;
}

bool RestoreJournal::online(const std::string& account) const {
  std::lock_guard lock(mu_);
  return online_.count(account) > 0;
}

void RestoreJournal::mark_ready(const std::string& account) { append("ready", account); }
void RestoreJournal::mark_online(const std::string& account) { append("online", account); }

void RestoreJournal::append(const std::string& word, const std::string& account) {
  const std::string line = word + " " + hex_of(account) + "\n";
  std::lock_guard lock(mu_);
  ssize_t n;
  do {
    n = ::write(fd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size()) || ::fdatasync(fd_) != 0)
    throw_errno("append to the node restore journal " + dir_ + "/journal");
  (word == "ready" ? ready_ : online_).insert(account);
}

}  // namespace lifeboat::node
