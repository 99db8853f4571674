// lifeboat stats: what the repository holds and what deduplication and
// compression save.
#include <memory>

#include <fmt/format.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace lifeboat::cli {

namespace {

struct BlobTotals {
  uint64_t count = 0;
  uint64_t raw_bytes = 0;     // plaintext
  uint64_t stored_bytes = 0;  // compressed + encrypted, as in the packs
};

double ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

CommandRun setup_stats(CLI::App& app, const GlobalOptions& g) {
  auto* cmd = app.add_subcommand("stats", "show repository size, deduplication and compression");
  (void)cmd;

  return [&g]() -> int {
    auto repo = open_repository(g, true);
    auto snapshots = repo->list_snapshots();
    uint64_t snapshot_bytes = 0;
    for (const auto& [id, s] : snapshots) snapshot_bytes += s.summary.bytes_total;

    BlobTotals data, tree;
    repo->index().for_each([&](const repo::BlobLocation& loc) {
      BlobTotals& t = loc.entry.type == repo::BlobType::kTree ? tree : data;
      ++t.count;
      t.raw_bytes += loc.entry.raw_length;
      t.stored_bytes += loc.entry.stored_length;
    });

    // Every object the repository is made of (locks are transient and left out).
    uint64_t repository_bytes = 0;
    backend::Backend& be = repo->backend();
    if (auto size = be.size({backend::ObjectType::kConfig, "config"})) repository_bytes += *size;
    for (auto type : {backend::ObjectType::kKey, backend::ObjectType::kData,
                      backend::ObjectType::kIndex, backend::ObjectType::kSnapshot})
      be.list(type, [&](std::string_view, uint64_t size) { repository_bytes += size; });

    uint64_t blobs = data.count + tree.count;
    uint64_t raw = data.raw_bytes + tree.raw_bytes;
    uint64_t stored = data.stored_bytes + tree.stored_bytes;
    double dedup = ratio(snapshot_bytes, data.raw_bytes);
    double compression = ratio(raw, stored);
    uint64_t index_memory = blobs * repo::Index::kBytesPerBlob;

    if (g.json) {
      auto totals = [](const BlobTotals& t) {
        return Json{{"count", t.count}, {"raw_bytes", t.raw_bytes}, {"stored_bytes", t.stored_bytes}};
      };
      print_json(Json{{"snapshots", snapshots.size()},
                      {"packs", repo->index().pack_count()},
                      {"blobs", blobs},
                      {"blobs_by_type", {{"data", totals(data)}, {"tree", totals(tree)}}},
                      {"repository_bytes", repository_bytes},
                      {"raw_bytes", raw},
                      {"stored_bytes", stored},
                      {"snapshot_bytes", snapshot_bytes},
                      {"dedup_ratio", dedup},
                      {"compression_ratio", compression},
                      {"index_memory_bytes", index_memory}});
      return kExitOk;
    }
    print_out(fmt::format(
        "repository {}\n"
        "snapshots:          {}\n"
        "packs:              {}\n"
        "blobs:              {} ({} data, {} tree)\n"
        "repository size:    {}\n"
        "raw blob bytes:     {} ({} data, {} tree)\n"
        "stored blob bytes:  {}\n"
        "snapshot bytes:     {} (sum of the file sizes of every snapshot)\n"
        "dedup ratio:        {:.2f}x (snapshot bytes / raw data blob bytes)\n"
        "compression ratio:  {:.2f}x (raw / stored blob bytes)\n"
        "index memory:       {} ({} bytes per blob)\n",
        repo->location(), snapshots.size(), repo->index().pack_count(), blobs, data.count,
        tree.count, format_bytes(repository_bytes), format_bytes(raw),
        format_bytes(data.raw_bytes), format_bytes(tree.raw_bytes), format_bytes(stored),
        format_bytes(snapshot_bytes), dedup, compression, format_bytes(index_memory),
        repo::Index::kBytesPerBlob));
    return kExitOk;
  };
}

}  // namespace lifeboat::cli
