// The server's knowledge base: the data dir's store, the encoder, and per
// collection its vector index, retriever and ingestor, opened on first use
// and kept for the server's life. Ingestion, deletion and searches run
// concurrently (the store and index are built for that); writes to one
// collection are serialized.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/ingest.h"
#include "index/retriever.h"
#include "index/sqlite_store.h"
#include "index/vector_index.h"
#include "service/encoder_embedder.h"

namespace tinyrag::server {

struct KnowledgeOptions {
  VectorIndexOptions vector_index;
  RetrieverOptions retrieval;
  ChunkerOptions chunker;
};

// What happened to one document of an ingest batch.
struct IngestOutcome {
  enum class Status { kAdded, kUpdated, kUnchanged, kFailed };
  Status status = Status::kFailed;
  int64_t document_id = 0;  // 0 when failed
  int64_t chunks = 0;       // the document's chunks now stored
  std::string error;        // why it failed
};

class ServerKnowledgeBase {
 public:
  // Takes `store` (which owns the data dir) and `embedder`. Every existing
  // collection made by another encoder stays readable lexically only; its
  // dense searches fail with FailedPrecondition.
  ServerKnowledgeBase(std::unique_ptr<SqliteStore> store, std::unique_ptr<EncoderEmbedder> embedder,
                      KnowledgeOptions options);
  // Saves every opened index.
  ~ServerKnowledgeBase();
  ServerKnowledgeBase(const ServerKnowledgeBase&) = delete;
  ServerKnowledgeBase& operator=(const ServerKnowledgeBase&) = delete;

  // The best chunks of `collection` for `request` (see Retriever::Search).
  // InvalidArgument naming the collection when it does not exist (so
  // for every method below).
  absl::StatusOr<std::vector<RetrievalResult>> Search(const std::string& collection,
                                                      const RetrievalRequest& request);

  // Ingests `documents` into `collection` (created with the encoder's identity
  // when missing), one outcome per document in order. The index is saved
  // when its last save is over kIndexSaveInterval old: a stream of small
  // batches calls SaveIndexes at its end instead of saving the whole index
  // per batch. FailedPrecondition when
  // the collection belongs to another encoder; store, index and embedder
  // errors that fail the whole batch as they come.
  absl::StatusOr<std::vector<IngestOutcome>> Ingest(const std::string& collection,
                                                    std::span<const Document> documents);

  // Deletes the documents with these ids that belong to `collection` and
  // every document of it from these sources; returns how many were deleted
  // (ids of other collections and unknown ids count nothing).
  absl::StatusOr<int64_t> Delete(const std::string& collection, std::span<const int64_t> document_ids,
                                 std::span<const std::string> sources);

  // Documents of `collection` in id order (oldest first), skipping `offset`,
  // at most `limit`.
  absl::StatusOr<std::vector<DocumentInfo>> List(const std::string& collection, int64_t offset, int limit);

  // Whether `collection` exists.
  absl::StatusOr<bool> HasCollection(const std::string& collection);

  // Saves every opened index whose contents changed since its last save and
  // prunes the change log behind it. Thread-safe.
  absl::Status SaveIndexes();

  static constexpr absl::Duration kIndexSaveInterval = absl::Seconds(30);

  const EncoderEmbedder& embedder() const { return *embedder_; }
  SqliteStore& store() { return *store_; }

 private:
  struct Collection {
    std::unique_ptr<VectorIndex> index;
    std::unique_ptr<Retriever> retriever;
    std::unique_ptr<Ingestor> ingestor;  // null when the collection belongs to another encoder
    absl::Mutex write_mu;                // serializes ingest and delete
    int64_t saved_change ABSL_GUARDED_BY(write_mu) = -1;  // last_change() at the last save
    absl::Time saved_at ABSL_GUARDED_BY(write_mu) = absl::Now();
  };
  // Saves `c`'s index when it changed since its last save.
  absl::Status SaveIndex(const std::string& name, Collection& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.write_mu);
  // The opened collection, opening it on first use; InvalidArgument when it does
  // not exist and `create` is false.
  absl::StatusOr<Collection*> Get(const std::string& name, bool create);

  const std::unique_ptr<SqliteStore> store_;
  const std::unique_ptr<EncoderEmbedder> embedder_;
  const KnowledgeOptions options_;
  absl::Mutex mu_;  // guards the map; held while a collection opens
  std::map<std::string, std::unique_ptr<Collection>> collections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tinyrag::server
