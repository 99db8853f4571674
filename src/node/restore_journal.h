// The state of a node restore, kept in a directory so a killed run can be
// resumed: which snapshot each account is restored from (fixed when the run
// starts, so a resumed run restores the same data even if backups ran
// meanwhile), and which accounts became ready and which went online (their
// ready hook succeeded).
//
// Files: `plan` (written once, atomically: temp file, fsync, rename) and
// `journal` (one line appended and fdatasync'ed per event). Names are hex
// encoded, so any bytes are safe. A line torn by a kill is ignored.
#pragma once

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/id.h"

namespace lifeboat::node {

class RestoreJournal {
 public:
  struct Entry {
    std::string account;
    Id snapshot;
  };

  // Whether `dir` holds the state of a run.
  static bool exists(const std::string& dir);
  // Removes the state (plan, journal, timeline files) of an earlier run.
  static void discard(const std::string& dir);
  // Starts a run: creates `dir` and writes its plan. Throws Error naming
  // the directory.
  static RestoreJournal start(const std::string& dir, const std::string& node,
                              std::vector<Entry> plan);
  // Reads an earlier run's state. Throws Error(kCorrupt / kNotFound) naming it.
  static RestoreJournal load(const std::string& dir);

  RestoreJournal(RestoreJournal&& other) noexcept;
  ~RestoreJournal();

  const std::string& node() const { return node_; }
  const std::vector<Entry>& plan() const { return plan_; }
  bool ready(const std::string& account) const;
  bool online(const std::string& account) const;

  // Appends and syncs an event. Thread-safe. Throws Error naming the file.
  void mark_ready(const std::string& account);
  void mark_online(const std::string& account);

 private:
  RestoreJournal(std::string dir, std::string node, std::vector<Entry> plan);
  void append(const std::string& word, const std::string& account);
  void open_for_append();

  std::string dir_;
  std::string node_;
  std::vector<Entry> plan_;
  mutable std::mutex mu_;
  std::set<std::string> ready_, online_;  // guarded by mu_
  int fd_ = -1;                           // journal, open for appending
};

}  // namespace lifeboat::node
