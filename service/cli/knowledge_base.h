// Plumbing shared by the knowledge-base subcommands (ingest, search, docs,
// eval): opening a data dir with a clear message when another process owns
// it, opening a collection's vector index, and terminal progress.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/encoder_embedder.h"
#include "index/ingest.h"
#include "index/sqlite_store.h"
#include "index/vector_index.h"
#include "nlohmann/json.hpp"

namespace tinyrag::cli {

// The collection used when --collection is not given.
inline constexpr char kDefaultCollection[] = "default";

// Opens the store of `data_dir` for `access` (index/data_dir_lock.h):
// kWrite for commands that write (ingest, docs delete, eval), creating the
// dir when missing; kRead for commands that only read (search, docs list),
// which run beside a CLI writer. When a server owns the dir, or another
// writer holds it, the error says so and how to proceed.
absl::StatusOr<std::unique_ptr<SqliteStore>> OpenDataDir(const std::string& data_dir,
                                                         DataDirAccess access = DataDirAccess::kWrite);

// Opens `collection`'s vector index in its default file, repairing it from
// the store as VectorIndex::Open does; when it had to be rebuilt or caught up
// and the store may write (not kRead), the repaired index is saved so the
// next run loads it directly. A reader keeps its caught-up index in memory:
// the writer owns the file and the change log behind it.
absl::StatusOr<std::unique_ptr<VectorIndex>> OpenCollectionIndex(SqliteStore& store, const std::string& collection);

// A data dir opened for commands that embed: the store, the encoder, the
// collection (created with the encoder's identity, or checked against it)
// and the collection's vector index.
struct EncodedKnowledgeBase {
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<EncoderEmbedder> embedder;
  std::unique_ptr<VectorIndex> index;
};
absl::StatusOr<EncodedKnowledgeBase> OpenWithEncoder(const std::string& data_dir, const std::string& encoder,
                                                     int threads, const std::string& collection);

// Saves the index and prunes the change log it now contains.
absl::Status SaveIndex(SqliteStore& store, VectorIndex& index, const std::string& collection);

// An absolute, normalized spelling of a path (how ingest records sources).
std::string AbsoluteSource(const std::string& path);

// Prints ingestion progress on one rewritten stderr line, at most a few
// times a second, and only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();  // ends the line when something was printed
  void Update(const IngestProgress& p);

 private:
  bool enabled_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// The summary as cli.md's `ingest --json` object (plus details).
nlohmann::json SummaryJson(const IngestSummary& s, const std::string& collection);

// Each failure on stderr: "tinyrag: skipped SOURCE[:LINE]: MESSAGE".
void ReportFailures(const IngestSummary& s);

}  // namespace tinyrag::cli
