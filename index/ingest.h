// Ingestion: files (or already extracted documents) into one collection of the
// knowledge base.
//
//   path -> ExtractFile -> (unchanged? skip) -> Chunker -> batched Embed
//        -> one store transaction per document -> VectorIndex::CatchUp
//        -> periodic VectorIndex::Save (atomic snapshot)
//
// Idempotence: a document is keyed by its external id (a file's absolute path,
// or a .jsonl line's id). When the stored document has the same content hash
// (extract.h's ContentHash plus the chunking settings) it costs no chunking
// and no embedding: it is reported unchanged, or updated when only what is
// not embedded changed (its metadata or source; the title is embedded and is
// part of the hash), in which case just those fields are written. A changed
// document replaces the old version in one transaction. A rerun after a crash
// finds the documents that were committed unchanged and continues with the
// rest.
//
// Removed files (opt-in, IngestOptions::delete_missing): documents whose
// source lies under a folder given to IngestPaths and no longer exists are
// deleted, so a folder re-ingested after files were removed matches it; and
// records removed from a .jsonl file (read without a bad line; otherwise its
// documents are all kept) are deleted, whether the file was named or found
// in a folder.
//
// Failures: a file that cannot be read, has an unsupported extension or holds
// no text, and a bad .jsonl line, are reported (IngestSummary::failures) and
// skipped; the batch goes on. Only errors that would fail every document (the
// embedder or the store failing) stop the run.
//
// Embedding is batched across documents: chunks of consecutive documents are
// embedded together, then each document is written on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/chunker.h"
#include "index/embedder.h"
#include "index/extract.h"
#include "index/store.h"
#include "index/vector_index.h"

namespace tinyrag {

struct IngestOptions {
  // max_model_tokens 0 means "the embedder's max_tokens()".
  ChunkerOptions chunker;
  ExtractOptions extract;
  // Chunks embedded per Embedder::Embed call (several documents share a call).
  int64_t embed_batch_chunks = 64;
  // The vector index is saved at most this often while ingesting, and at
  // the end of a run; <= 0 saves after every batch.
  double snapshot_interval_seconds = 30.0;
  // False when the caller saves the index itself (the Ingestor then only
  // keeps it caught up): a server ingesting a long stream in small runs
  // saves once per stream, not once per run (saving writes the whole
  // index). Unsaved changes are safe: the store is the source of truth and
  // an index opened behind it catches up.
  bool save_index = true;
  // IngestPaths only: for each folder given, delete the collection's
  // documents whose source is a path under that folder which no longer
  // exists (a file that exists but fails to extract keeps its documents).
  // Counted in IngestSummary::documents_deleted.
  bool delete_missing = false;
};

// Reported after every file (or document) and once more when the run is done.
struct IngestProgress {
  int64_t files_done = 0;
  int64_t files_total = 0;      // 0 when ingesting documents rather than files
  int64_t documents_done = 0;   // added, updated, unchanged or failed so far
  int64_t chunks_done = 0;      // chunks embedded and stored so far
  double seconds = 0;           // since the run started
  double chunks_per_second = 0;
  double eta_seconds = -1;      // estimated time left; -1 while unknown
};
using IngestProgressFn = std::function<void(const IngestProgress&)>;

// One skipped input: a file, a .jsonl line (line > 0) or a document.
struct IngestFailure {
  std::string source;
  int64_t line = 0;
  std::string message;
};

struct IngestSummary {
  int64_t files = 0;  // files found (explicit paths and files under folders)
  int64_t documents_added = 0;
  int64_t documents_updated = 0;
  int64_t documents_unchanged = 0;
  int64_t documents_failed = 0;  // failures.size()
  int64_t chunks_added = 0;
  int64_t documents_deleted = 0;  // sources gone from an ingested folder (delete_missing)
  int64_t chunks_removed = 0;   // chunks of replaced and deleted documents
  double seconds = 0;           // the whole run
  double embed_seconds = 0;     // inside Embedder::Embed
  std::vector<IngestFailure> failures;
};

class Ingestor {
 public:
  // An ingestor for `collection`, which is created bound to the embedder's
  // identity when missing. `index` must be the collection's vector index
  // (opened after the collection exists); none of the pointers are owned, all
  // must outlive the ingestor. FailedPrecondition when the collection belongs
  // to another encoder; InvalidArgument for bad chunker options or an index
  // of another dimension.
  static absl::StatusOr<std::unique_ptr<Ingestor>> Create(DocumentStore* store, VectorIndex* index,
                                                          const Embedder* embedder, std::string collection,
                                                          const IngestOptions& options = {});

  // Ingests files: each path is a file or a folder walked recursively (in
  // name order; entries starting with '.' skipped). Per-file problems are
  // failures in the summary, not errors. Errors: the embedder's, or a store
  // or index error that is not about one document's input. Progress (optional)
  // is called on this thread. One run at a time per ingestor (calls wait).
  absl::StatusOr<IngestSummary> IngestPaths(std::span<const std::string> paths,
                                            const IngestProgressFn& progress = nullptr);

  // Ingests already extracted documents (e.g. from ExtractBytes); otherwise
  // as IngestPaths.
  absl::StatusOr<IngestSummary> IngestDocuments(std::span<const Document> documents,
                                                const IngestProgressFn& progress = nullptr);

  // Deletes a document (NotFound when there is none) or every document of
  // this collection from `source` (returns how many), then brings the vector
  // index up to date so searches stop finding them.
  absl::StatusOr<DocumentInfo> DeleteDocument(int64_t document_id);
  absl::StatusOr<int64_t> DeleteBySource(std::string_view source);

  // The hash stored for `doc`: its content hash plus the chunking settings, so
  // that changing them re-chunks and re-embeds.
  std::string StoredHash(const Document& doc) const;

  const std::string& collection() const { return collection_; }

 private:
  class Run;

  Ingestor(DocumentStore* store, VectorIndex* index, const Embedder* embedder, std::string collection,
           IngestOptions options, Chunker chunker)
      : store_(store),
        index_(index),
        embedder_(embedder),
        collection_(std::move(collection)),
        options_(std::move(options)),
        chunker_(std::move(chunker)) {}

  DocumentStore* const store_;
  VectorIndex* const index_;
  const Embedder* const embedder_;
  const std::string collection_;
  const IngestOptions options_;
  const Chunker chunker_;
  absl::Mutex run_mu_;  // one ingestion run at a time
};

}  // namespace tinyrag
