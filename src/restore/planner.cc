#include "restore/planner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>

#include "base/error.h"
#include "base/thread_pool.h"
#include "fs/metadata.h"
#include "restore/retry.h"
#include "repo/tree_loader.h"

namespace lifeboat::restore {
namespace {

using repo::Node;
using repo::NodeType;
using repo::Tree;

// Directories whose trees are loaded at once. Bounds the trees held in memory.
constexpr size_t kTreeBatch = 256;
// Trees of a batch that lie in one pack close together are read with one
// ranged read (repo/tree_loader.h): a tree walk over a remote repository is
// otherwise one request per directory (28,590 for the benchmark node).
// Recently loaded trees kept for identical directories elsewhere (the same
// CMS core in many accounts).
constexpr size_t kTreeCacheSize = 256;

bool valid_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

std::string join(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

std::string base_name(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// "a//b/./c/" -> {"a", "b", "c"}. Throws for "..".
std::vector<std::string> split_subpath(const std::string& subpath) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= subpath.size()) {
    size_t end = subpath.find('/', pos);
    if (end == std::string::npos) end = subpath.size();
    std::string part = subpath.substr(pos, end - pos);
    if (part == "..")
      throw Error(
          ErrorCode::kInvalidArgument,
          "subpath '" + subpath + "' must not contain '..'; name a path inside the snapshot");
    if (!part.empty() && part != ".") out.push_back(std::move(part));
    pos = end + 1;
  }
  return out;
}

Tree load_tree_or_throw(const Sources& sources, const Id& id, const std::string& what) {
  try {
    return sources.load_tree(id);
  } catch (const Error& e) {
    throw Error(e.code(), what + " cannot be read: " + e.message());
  }
}

}  // namespace

Node metadata_only(Node&& node) {
  Node meta = std::move(node);
  meta.name.clear();
  meta.user.clear();
  meta.group.clear();
  meta.symlink_target.clear();
  meta.content.clear();
  meta.content.shrink_to_fit();
  return meta;
}

Planner::Planner(const Sources& sources, const RestoreOptions& options, DirTable& dirs,
                 DirFds& dir_fds, Reporter& reporter)
    : sources_(sources),
      repo_(sources.primary()),
      options_(options),
      dirs_(dirs),
      dir_fds_(dir_fds),
      reporter_(reporter),
      filter_(options.includes, options.excludes),
      restore_owner_(options.restore_owner && geteuid() == 0) {}

RestoreRoot find_root(const Sources& sources, const Id& top_tree, const std::string& subpath) {
  Tree top = load_tree_or_throw(sources, top_tree, "snapshot tree " + top_tree.hex());

  // The top tree holds one node "." carrying the root directory's own
  // metadata. A bare content tree (no ".") is accepted too.
  RestoreRoot root;
  Node& node = root.node;
  node.type = NodeType::kDir;
  std::optional<Tree> bare;
  if (top.nodes.size() == 1 && top.nodes[0].name == "." && top.nodes[0].type == NodeType::kDir) {
    node = std::move(top.nodes[0]);
    root.has_meta = true;
  } else {
    node.subtree = top_tree;
    bare = std::move(top);
  }

  // Find the subpath, one tree per component.
  std::string& rel = root.rel;
  for (const std::string& part : split_subpath(subpath)) {
    if (node.type != NodeType::kDir)
      throw Error(ErrorCode::kNotFound, "subpath '" + subpath + "' is not in the snapshot ('" +
                                            rel + "' is not a directory)");
    Tree t = bare ? std::move(*bare)
                  : load_tree_or_throw(sources, node.subtree,
                                       "tree of '" + (rel.empty() ? "." : rel) + "'");
    bare.reset();
    auto it =
        std::find_if(t.nodes.begin(), t.nodes.end(), [&](const Node& n) { return n.name == part; });
    if (it == t.nodes.end())
      throw Error(ErrorCode::kNotFound, "subpath '" + subpath + "' is not in the snapshot (no '" +
                                            join(rel, part) + "')");
    node = std::move(*it);
    root.has_meta = true;
    rel = join(rel, part);
  }
  return root;
}

Plan Planner::run(RestoreRoot start, uint32_t dir) {
  Node& root = start.node;
  const std::string& rel = start.rel;
  if (dir != 0 && !ensure_dir(dir)) return std::move(plan_);
  if (root.type != NodeType::kDir) {
    // A single file, symlink or special: restored as <dir>/<its name>.
    std::vector<Pending> none;
    process_node(dir, rel, root, !filter_.has_includes(), none);
    return std::move(plan_);
  }

  bool included =
      !filter_.has_includes() || (!rel.empty() && filter_.included(rel, base_name(rel)));
  if (root.damaged) {
    reporter_.damaged++;
    reporter_.note(dirs_.path(dir),
                   "was damaged at backup time (it changed or could not be read "
                   "completely); restored with what could be read");
  }
  Id subtree = root.subtree;
  if (start.has_meta) {
    dirs_[dir].meta = metadata_only(std::move(root));
    dirs_[dir].has_meta = true;
  }
  if (!subtree.is_zero()) walk({Pending{dir, subtree, rel, included}});
  return std::move(plan_);
}


void Planner::walk(std::vector<Pending> start) {
  std::vector<Pending> queue = std::move(start);
  size_t head = 0;
  ThreadPool pool(std::max<size_t>(1, options_.fetch_threads));
  std::unordered_map<Id, std::shared_ptr<const Tree>, IdHash> cache;

  while (head < queue.size()) {
    // Take a batch and load its trees in parallel (each distinct tree once).
    size_t end = std::min(queue.size(), head + kTreeBatch);
    std::vector<Pending> batch(
        std::make_move_iterator(queue.begin() + static_cast<ptrdiff_t>(head)),
        std::make_move_iterator(queue.begin() + static_cast<ptrdiff_t>(end)));
    head = end;
    if (head > 4096 && head * 2 > queue.size()) {  // drop the consumed front now and then
      queue.erase(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(head));
      head = 0;
    }

    std::vector<std::shared_ptr<const Tree>> trees(batch.size());
    std::vector<size_t> slot(batch.size(), SIZE_MAX);
    std::unordered_map<Id, size_t, IdHash> slot_of;
    std::vector<Id> ids;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto c = cache.find(batch[i].tree);
      if (c != cache.end()) {
        trees[i] = c->second;
        continue;
      }
      auto [it, added] = slot_of.emplace(batch[i].tree, ids.size());
      if (added) ids.push_back(batch[i].tree);
      slot[i] = it->second;
    }
    std::vector<std::shared_ptr<const Tree>> loaded(ids.size());
    std::vector<std::string> errors(ids.size());
    std::vector<repo::LoadedTree> raw(ids.size());
    const auto load_alone = [&](size_t i) {
      try {
        loaded[i] = std::make_shared<const Tree>(sources_.load_tree(ids[i]));
      } catch (const Error& e) {
        errors[i] = e.message();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    };
    for (const std::vector<size_t>& run : repo::tree_read_runs(repo_, ids)) {
      pool.submit([&, run] {
        repo::read_tree_run(repo_, ids, run, raw);
        for (size_t i : run) {
          if (!raw[i].ok) continue;
          try {
            loaded[i] = std::make_shared<const Tree>(repo::decode_tree(raw[i].plaintext));
          } catch (const Error&) {
          }
          raw[i] = repo::LoadedTree{};
        }
        // The rest alone, with every fallback (other repositories too).
        for (size_t i : run)
          if (!loaded[i]) load_alone(i);
      });
    }
    pool.wait();
    if (cache.size() + ids.size() > kTreeCacheSize) cache.clear();
    for (size_t i = 0; i < ids.size(); ++i)
      if (loaded[i]) cache.emplace(ids[i], loaded[i]);

    for (size_t i = 0; i < batch.size(); ++i) {
      const Pending& p = batch[i];
      if (slot[i] != SIZE_MAX) trees[i] = loaded[slot[i]];
      if (!trees[i]) {
        reporter_.error(dirs_.path(p.dir),
                        "directory contents could not be read: " + errors[slot[i]] +
                            "; restored as an empty directory");
        continue;
      }
      const std::shared_ptr<const Tree> tree = std::move(trees[i]);
      if (dirs_[p.dir].state == DirEntry::State::kFailed) continue;
      for (const Node& shared : tree->nodes) {
        if (!valid_name(shared.name)) {
          reporter_.error(dirs_.path(p.dir), "an entry with the invalid name '" + shared.name +
                                                 "' (empty, '.', '..', or containing '/' or NUL) "
                                                 "was skipped");
          continue;
        }
        Node node = shared;  // the tree may be shared through the cache
        process_node(p.dir, join(p.rel, node.name), node, p.included, queue);
      }
    }
  }
}

void Planner::process_node(uint32_t dir, const std::string& rel, Node& node, bool inherited,
                           std::vector<Pending>& pending) {
  const std::string& name = node.name;
  if (filter_.excluded(rel, name)) return;
  bool included = inherited || filter_.included(rel, name);
  if (included && node.damaged) {
    reporter_.damaged++;
    reporter_.note(dirs_.path(dir, name),
                   "was damaged at backup time (it changed or could not be "
                   "read completely); restored with what could be read");
  }

  if (node.type == NodeType::kDir) {
    uint32_t d = dirs_.add(dir, name);
    Id subtree = node.subtree;
    dirs_[d].meta = metadata_only(std::move(node));
    dirs_[d].has_meta = true;
    if (included && !ensure_dir(d)) return;
    if (dirs_[dir].state == DirEntry::State::kFailed) return;
    if (!subtree.is_zero()) pending.push_back(Pending{d, subtree, rel, included});
    return;
  }
  if (!included || !ensure_dir(dir)) return;
  if (node.type == NodeType::kFile)
    add_file(dir, node);
  else
    add_special(dir, node);
}

uint32_t Planner::safe_mode(const Node& node) const {
  // Without the recorded owner, a set-id bit would lend the restoring user's
  // identity (root's, usually) to whoever can run the file: drop it.
  uint32_t mode = node.mode;
  if (!restore_owner_) {
    if (node.uid != geteuid()) mode &= ~uint32_t{S_ISUID};
    if (node.gid != getegid()) mode &= ~uint32_t{S_ISGID};
  }
  return mode;
}

bool Planner::ensure_dir(uint32_t dir) {
  DirEntry& e = dirs_[dir];
  if (e.state == DirEntry::State::kCreated) return true;
  if (e.state == DirEntry::State::kFailed) return false;
  if (!ensure_dir(e.parent)) {
    e.state = DirEntry::State::kFailed;
    return false;
  }
  int err = 0;
  try {
    DirFd parent = dir_fds_.get(e.parent);
    const int pfd = parent->get();
    if (mkdirat(pfd, e.name.c_str(), 0700) != 0) {
      err = errno;
      if (err == EEXIST) {
        // Restoring into an existing tree: keep a directory, replace anything else.
        struct stat st;
        if (fstatat(pfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
          err = 0;
          // A read-only directory from an earlier restore: open it up until
          // its final mode is applied at the end.
          if ((st.st_mode & 0700) != 0700 && geteuid() != 0)
            fchmodat(pfd, e.name.c_str(), (st.st_mode & 07777) | 0700, 0);
        } else if (unlinkat(pfd, e.name.c_str(), 0) == 0 && mkdirat(pfd, e.name.c_str(), 0700) == 0)
          err = 0;
        else
          err = errno;
      }
    }
  } catch (const Error& e2) {
    reporter_.error(dirs_.path(dir), "could not create directory: " + e2.message() +
                                         "; nothing below it is restored");
    e.state = DirEntry::State::kFailed;
    return false;
  }
  if (err != 0) {
    std::string path = dirs_.path(dir);
    if (is_no_space(err))
      throw Error(ErrorCode::kNoSpace,
                  "restore stopped, the target is full: create directory " + path + ": " +
                      std::strerror(err) +
                      "; free space (or raise the quota) and run the restore again");
    reporter_.error(path, std::string("could not create directory: ") + std::strerror(err) +
                              "; nothing below it is restored");
    e.state = DirEntry::State::kFailed;
    return false;
  }
  e.state = DirEntry::State::kCreated;
  reporter_.dirs++;
  return true;
}

void Planner::add_file(uint32_t dir, Node& node) {
  const uint32_t index = static_cast<uint32_t>(plan_.files.size());
  if (node.links > 1 && node.inode != 0) {
    auto [it, first] = inodes_.emplace(std::make_pair(node.device, node.inode), index);
    if (!first) {
      plan_.links.push_back(PlannedLink{dir, node.name, it->second});
      return;
    }
  }
  PlannedFile file;
  file.dir = dir;
  file.name = node.name;
  // A file kept from an earlier run still lists its parts: verification
  // reads them (the batch leaves them out of the content pass).
  file.present = options_.keep_complete_files && already_complete(dir, node);
  uint64_t offset = 0;
  size_t data_parts = 0;
  bool holes = false;
  for (const repo::ContentPart& part : node.content) {
    if (part.is_hole()) {
      holes = true;
    } else if (part.length > 0) {
      plan_.refs.push_back(BlobRef{part.blob, index, static_cast<uint32_t>(part.length), offset});
      if (!file.present) plan_.content_bytes += part.length;
      ++data_parts;
    }
    offset += part.length;
  }
  if (offset != node.size) holes = true;  // content shorter than the size: the rest is a hole
  file.sparse = holes || data_parts > 1;
  node.mode = safe_mode(node);
  file.meta = FileMeta::of(std::move(node));
  plan_.files.push_back(std::move(file));
}

bool Planner::already_complete(uint32_t dir, const Node& node) {
  struct stat st;
  try {
    DirFd parent = dir_fds_.get(dir);
    if (fstatat(parent->get(), node.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  } catch (const Error&) {
    return false;
  }
  // FileTable sets a file's times only after its last part is written, so
  // a file with the snapshot's size and mtime was completed by an earlier
  // run (verification confirms it byte for byte).
  return S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == node.size &&
         int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec == node.mtime_ns;
}

void Planner::add_special(uint32_t dir, Node& node) {
  const std::string path = dirs_.path(dir, node.name);
  try {
    DirFd parent = dir_fds_.get(dir);
    auto create = [&] {
      with_path_at(parent->get(), node.name, path,
                   [&](const std::string& p) { fs::create_special(p, node); });
    };
    try {
      create();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kAlreadyExists) throw;
      // Restoring into an existing tree: replace what is there (not a directory).
      if (unlinkat(parent->get(), node.name.c_str(), 0) != 0) throw;
      create();
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNoSpace)
      throw Error(ErrorCode::kNoSpace,
                  "restore stopped, the target is full: " + e.message() +
                      "; free space (or raise the quota) and run the restore again");
    reporter_.error(path, e.message());
    return;
  }
  reporter_.other++;
  node.mode = safe_mode(node);
  std::string name = node.name;
  std::string target = std::move(node.symlink_target);
  repo::Node meta = metadata_only(std::move(node));
  meta.symlink_target = std::move(target);
  plan_.specials.push_back(PlannedSpecial{dir, std::move(name), std::move(meta)});
}

}  // namespace lifeboat::restore
