// The document store: the knowledge base's source of truth.
//
// A store holds collections; a collection holds documents made of chunks, each
// chunk with its text, token count, heading path and embedding. Every chunk
// added or removed is recorded in a change log with a monotonically increasing
// change number, so a vector index built from the store can say how far it is
// and catch up (or be rebuilt) from the store alone.
//
// The interface keeps callers independent of SQLite: a PostgreSQL store for
// multi-replica deployments may implement it later.
//
// Identifiers: documents and chunks get int64 ids that are never reused, even
// after deletion, so a chunk id is also the chunk's id in the vector index.
//
// Thread safety: every method of an implementation may be called from any
// number of threads at once. Reads see a consistent snapshot and run in
// parallel with a write; writes are serialized.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tinyrag {

// What produced a collection's embeddings. Vectors of two encoders are not
// comparable, so a collection accepts only the encoder it was created with.
struct EncoderIdentity {
  std::string name;       // model name or path as the user knows it
  int64_t dim = 0;        // embedding width
  std::string file_hash;  // hash of the model file(s): same name, other weights is another encoder

  bool operator==(const EncoderIdentity&) const = default;
};

struct CollectionInfo {
  int64_t id = 0;
  std::string name;
  EncoderIdentity encoder;
  int64_t created_ms = 0;  // Unix time, milliseconds
};

struct ChunkInput {
  std::string text;
  int32_t token_count = 0;
  std::string heading_path;      // e.g. "Install > Linux"; empty when the chunk has no heading
  std::vector<float> embedding;  // exactly the collection's dimension, finite values
};

struct DocumentInput {
  // The document's key within its collection: a JSONL record's id, or the
  // source path for files. Upserting the same key again replaces the document.
  std::string external_id;
  std::string source;        // the path or URI it was ingested from
  std::string title;
  // Decides whether a re-ingested document changed: the caller hashes whatever
  // should trigger re-embedding (text, and title or metadata if they matter).
  std::string content_hash;
  nlohmann::json metadata = nlohmann::json::object();  // a JSON object
  std::vector<ChunkInput> chunks;  // in document order; a chunk's position is its index
};

enum class UpsertOutcome { kAdded, kUpdated, kUnchanged };

struct UpsertResult {
  int64_t document_id = 0;
  UpsertOutcome outcome = UpsertOutcome::kUnchanged;
  int64_t chunks_added = 0;    // 0 when unchanged
  int64_t chunks_removed = 0;  // the old version's chunks, when updated
};

struct DocumentInfo {
  int64_t id = 0;
  std::string collection;
  std::string external_id;
  std::string source;
  std::string title;
  std::string content_hash;
  nlohmann::json metadata;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t chunk_count = 0;
};

// A stored chunk with the fields of its document that a search result shows.
struct ChunkRecord {
  int64_t id = 0;
  int64_t document_id = 0;
  int32_t position = 0;
  std::string text;
  int32_t token_count = 0;
  std::string heading_path;
  std::string external_id;  // of the document
  std::string title;
  std::string source;
};

// A document matches when its metadata object has `key` at the top level with
// a value equal to `value` (same JSON type: "1" does not equal 1; numbers
// compare by value; arrays and objects are not supported as filter values).
struct MetadataFilter {
  std::string key;
  nlohmann::json value;
};

struct SearchFilter {
  std::string collection;
  std::vector<MetadataFilter> metadata;  // all must match
};

struct LexicalHit {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  double score = 0;  // -bm25: higher is better
};

// The net effect of a stretch of the change log on a collection's vectors.
struct ChangeBatch {
  int64_t first_change = 0;  // exclusive: the batch covers changes (first_change, last_change]
  int64_t last_change = 0;   // equal to first_change when there was nothing new
  std::vector<int64_t> removed;      // chunk ids removed (each added before this batch or never indexed)
  std::vector<int64_t> added;        // chunk ids added and still present
  std::vector<float> added_vectors;  // [added.size()][dim], in the order of `added`
};

struct ListDocumentsOptions {
  int64_t offset = 0;
  int64_t limit = 1000;  // at most this many; ordered by document id
  std::string source;    // when non-empty, only documents from this source
  std::string source_prefix;  // when non-empty, only documents whose source starts with it
};

class DocumentStore {
 public:
  virtual ~DocumentStore() = default;

  // Creates the collection bound to `encoder`, or checks an existing one.
  // FailedPrecondition naming both encoders when the collection exists with
  // another encoder identity; InvalidArgument for an empty name or dim < 1.
  virtual absl::StatusOr<CollectionInfo> EnsureCollection(std::string_view name, const EncoderIdentity& encoder) = 0;

  // NotFound when there is no such collection.
  virtual absl::StatusOr<CollectionInfo> GetCollection(std::string_view name) = 0;
  // Every collection, by name.
  virtual absl::StatusOr<std::vector<CollectionInfo>> ListCollections() = 0;

  // The document stored under `external_id`, or nullopt when there is none
  // (lets ingestion skip embedding an unchanged document). NotFound when the
  // collection does not exist.
  virtual absl::StatusOr<std::optional<DocumentInfo>> FindDocument(std::string_view collection,
                                                                   std::string_view external_id) = 0;

  // The document with this id in any collection (DocumentInfo::collection
  // names it), or nullopt when there is none.
  virtual absl::StatusOr<std::optional<DocumentInfo>> GetDocument(int64_t document_id) = 0;

  // Adds or replaces a whole document with its chunks and embeddings in one
  // transaction: after a crash the document is either fully old or fully new.
  // A stored document with the same content hash keeps its chunks and
  // embeddings (`doc.chunks` is ignored and may be empty): when its source,
  // title and metadata are the same too it is left alone (kUnchanged, nothing
  // written), else just those fields are updated (kUpdated with no chunks
  // added or removed; the vector index has nothing to catch up).
  // NotFound for a missing collection; InvalidArgument for an empty external
  // id, a non-object metadata, or an embedding of the wrong size or with a
  // non-finite value.
  virtual absl::StatusOr<UpsertResult> UpsertDocument(std::string_view collection, const DocumentInput& doc) = 0;

  // Deletes one document and its chunks. Returns what was deleted; NotFound
  // when there is no document with this id.
  virtual absl::StatusOr<DocumentInfo> DeleteDocument(int64_t document_id) = 0;
  // Deletes every document of the collection ingested from `source`; returns
  // how many (0 when none). NotFound for a missing collection.
  virtual absl::StatusOr<int64_t> DeleteBySource(std::string_view collection, std::string_view source) = 0;

  // NotFound for a missing collection.
  virtual absl::StatusOr<std::vector<DocumentInfo>> ListDocuments(std::string_view collection,
                                                                  const ListDocumentsOptions& options = {}) = 0;

  // The chunks with these ids, in the order of `ids`; ids that do not exist
  // (or, with a filter, are not in its collection or do not match its
  // metadata) are left out.
  virtual absl::StatusOr<std::vector<ChunkRecord>> GetChunks(std::span<const int64_t> ids,
                                                             const SearchFilter* filter = nullptr) = 0;

  // Calls `fn` with batches of at most `batch_size` chunk ids and their
  // vectors ([n][dim]), every chunk of the collection once, in id order, all
  // from one snapshot. Returns the change number that snapshot contains (what
  // an index built from these vectors is up to date with). Stops at the first
  // error `fn` returns and returns it. NotFound for a missing collection.
  virtual absl::StatusOr<int64_t> ForEachEmbedding(
      std::string_view collection, int64_t batch_size,
      const std::function<absl::Status(std::span<const int64_t> ids, std::span<const float> vectors)>& fn) = 0;

  // The net effect of at most `max_changes` changes after `after_change`, read
  // from one snapshot. An empty batch (last_change == after_change) means
  // nothing newer. NotFound for a missing collection; OutOfRange when changes
  // after `after_change` were pruned (the caller must rebuild from
  // ForEachEmbedding instead).
  virtual absl::StatusOr<ChangeBatch> ReadChanges(std::string_view collection, int64_t after_change,
                                                  int64_t max_changes) = 0;

  // Forgets the collection's changes up to and including `through_change`, so
  // the log does not grow forever; call it once every vector index of the
  // collection has saved a file containing them. Pruning less than before is
  // a no-op. NotFound for a missing collection.
  virtual absl::Status PruneChanges(std::string_view collection, int64_t through_change) = 0;

  // The collection's newest change number (0 when it never changed). NotFound
  // for a missing collection.
  virtual absl::StatusOr<int64_t> LastChange(std::string_view collection) = 0;

  // The collection's chunk count. NotFound for a missing collection.
  virtual absl::StatusOr<int64_t> CountChunks(std::string_view collection) = 0;

  // Full-text search: chunks containing ANY of the question's terms (stop
  // words dropped unless nothing else is left), ranked by BM25, best first, at
  // most k. Any text is a valid question: FTS5 operators and punctuation in it
  // are searched as words or ignored, never parsed. A question with no words
  // gives no hits. NotFound for a missing collection; InvalidArgument for an
  // unsupported filter value.
  virtual absl::StatusOr<std::vector<LexicalHit>> LexicalSearch(const SearchFilter& filter, std::string_view question,
                                                                int k) = 0;
};

}  // namespace tinyrag
