// Hybrid retrieval over one collection: dense top-k from the vector index and
// lexical top-k from the store's FTS5 BM25 search (any of the query's terms),
// fused by reciprocal rank fusion:
//
//   score(chunk) = dense_weight / (rrf_k + dense_rank) + lexical_weight / (rrf_k + lexical_rank)
//
// with 1-based ranks and a list the chunk is absent from contributing 0.
// Modes: hybrid (fused), dense only, lexical only.
//
// Consistency: the chunks returned are read from the store in one snapshot
// after both searches, so every result is a chunk of one whole document
// version. A chunk whose document was replaced or deleted meanwhile is left
// out and the search is repeated (at most three times in all), so a search
// during ingestion rarely returns fewer than k results.
//
// Thread safety: a Retriever is immutable; Search may be called from any
// number of threads at once, also while an Ingestor writes the collection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/embedder.h"
#include "index/store.h"
#include "index/vector_index.h"

namespace tinyrag {

enum class RetrievalMode { kHybrid, kDense, kLexical };

// "hybrid", "dense", "lexical".
std::string_view RetrievalModeName(RetrievalMode mode);
// The mode named `name` (as above); InvalidArgument listing the modes otherwise.
absl::StatusOr<RetrievalMode> ParseRetrievalMode(std::string_view name);

struct RetrieverOptions {
  // Chunks taken from each of the dense and lexical lists before fusion
  // (raised to k when k is larger).
  int candidates = 50;
  double rrf_k = 60.0;
  double dense_weight = 1.0;
  double lexical_weight = 1.0;
};

struct RetrievalRequest {
  std::string query;
  int k = 5;
  RetrievalMode mode = RetrievalMode::kHybrid;
  std::vector<MetadataFilter> metadata;  // all must match the document's metadata
  // The query's embedding when the caller already has it (dimension of the
  // collection); empty: the retriever embeds `query`.
  std::vector<float> query_vector;
};

struct RetrievalResult {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  std::string external_id;
  std::string title;
  std::string source;
  std::string heading_path;
  std::string text;
  // The fused RRF score in hybrid mode; the dense (cosine) or lexical (-bm25)
  // score in the single modes. Higher is better.
  double score = 0;
  std::optional<double> dense_score;    // cosine similarity, when in the dense list
  std::optional<double> lexical_score;  // -bm25, when in the lexical list
  int dense_rank = 0;                   // 1-based rank in the dense list, 0 when absent
  int lexical_rank = 0;                 // 1-based rank in the lexical list, 0 when absent
};

// One chunk of a fused ranking.
struct FusedRank {
  int64_t id = 0;
  double score = 0;
  int dense_rank = 0;    // 1-based, 0 when absent from the dense list
  int lexical_rank = 0;  // 1-based, 0 when absent from the lexical list
};

// Reciprocal rank fusion of two rankings of chunk ids (best first; an id
// repeated within a list counts at its first rank). Returns every id of
// either list, best first; ties go to the id with the better single rank,
// then the smaller id. Pure, thread-safe.
std::vector<FusedRank> FuseReciprocalRank(std::span<const int64_t> dense, std::span<const int64_t> lexical,
                                          const RetrieverOptions& options);

class Retriever {
 public:
  // A retriever for `collection`, whose vector index is `index`. `embedder`
  // may be null when only lexical searches (or searches with a query_vector)
  // are made. Nothing is owned; all must outlive the retriever. NotFound for
  // a missing collection; InvalidArgument for rrf_k <= 0, negative weights,
  // candidates < 1, or an index or embedder of another dimension than the
  // collection's.
  static absl::StatusOr<std::unique_ptr<Retriever>> Create(DocumentStore* store, std::string collection,
                                                           const VectorIndex* index, const Embedder* embedder,
                                                           const RetrieverOptions& options = {});

  // The best `request.k` chunks, best first (empty for k < 1 or when nothing
  // matches). InvalidArgument for a query_vector of the wrong dimension or an
  // unsupported metadata filter value; FailedPrecondition for a dense or
  // hybrid search without an embedder or query_vector; store, index and
  // embedder errors as they come.
  absl::StatusOr<std::vector<RetrievalResult>> Search(const RetrievalRequest& request) const;

  const std::string& collection() const { return collection_; }
  const RetrieverOptions& options() const { return options_; }

 private:
  struct DenseList;

  Retriever(DocumentStore* store, std::string collection, const VectorIndex* index, const Embedder* embedder,
            const RetrieverOptions& options)
      : store_(store), collection_(std::move(collection)), index_(index), embedder_(embedder), options_(options) {}

  // One search with the query's embedding (empty in lexical mode); sets
  // `*dropped` when candidates disappeared before their chunks were read.
  absl::StatusOr<std::vector<RetrievalResult>> SearchOnce(const RetrievalRequest& request,
                                                          std::span<const float> query, bool* dropped) const;
  // The dense ranking: up to `n` chunk ids matching `filter`, best first, with their scores.
  absl::StatusOr<DenseList> DenseSearch(std::span<const float> query, int n, const SearchFilter& filter) const;

  DocumentStore* const store_;
  const std::string collection_;
  const VectorIndex* const index_;
  const Embedder* const embedder_;
  const RetrieverOptions options_;
};

}  // namespace tinyrag
