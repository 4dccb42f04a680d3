#include "index/retriever.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {

struct Retriever::DenseList {
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

std::string_view RetrievalModeName(RetrievalMode mode) {
  switch (mode) {
    case RetrievalMode::kHybrid: return "hybrid";
    case RetrievalMode::kDense: return "dense";
    case RetrievalMode::kLexical: return "lexical";
  }
  return "hybrid";
}

absl::StatusOr<RetrievalMode> ParseRetrievalMode(std::string_view name) {
  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kLexical}) {
    if (name == RetrievalModeName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown retrieval mode \"", std::string(name), "\" (hybrid, dense or lexical)"));
}

std::vector<FusedRank> FuseReciprocalRank(std::span<const int64_t> dense, std::span<const int64_t> lexical,
                                          const RetrieverOptions& options) {
  absl::flat_hash_map<int64_t, size_t> where;
  std::vector<FusedRank> fused;
  auto add = [&](std::span<const int64_t> list, double weight, bool is_dense) {
    for (size_t i = 0; i < list.size(); ++i) {
      auto [it, inserted] = where.try_emplace(list[i], fused.size());
      if (inserted) fused.push_back({.id = list[i]});
      FusedRank& f = fused[it->second];
      int& rank = is_dense ? f.dense_rank : f.lexical_rank;
      if (rank != 0) continue;  // repeated within the list: its first rank counts
      rank = static_cast<int>(i) + 1;
      f.score += weight / (options.rrf_k + rank);
    }
  };
  add(dense, options.dense_weight, true);
  add(lexical, options.lexical_weight, false);
  auto best_rank = [](const FusedRank& f) {
    const int d = f.dense_rank == 0 ? INT32_MAX : f.dense_rank;
    const int l = f.lexical_rank == 0 ? INT32_MAX : f.lexical_rank;
    return std::min(d, l);
  };
  std::sort(fused.begin(), fused.end(), [&](const FusedRank& a, const FusedRank& b) {
    if (a.score != b.score) return a.score > b.score;
    if (best_rank(a) != best_rank(b)) return best_rank(a) < best_rank(b);
    return a.id < b.id;
  });
  return fused;
}

absl::StatusOr<std::unique_ptr<Retriever>> Retriever::Create(DocumentStore* store, std::string collection,
                                                             const VectorIndex* index, const Embedder* embedder,
                                                             const RetrieverOptions& options) {
  if (store == nullptr || index == nullptr) {
    return absl::InvalidArgumentError("retriever: a store and a vector index are required");
  }
  if (!(options.rrf_k > 0) || !(options.dense_weight >= 0) || !(options.lexical_weight >= 0) ||
      options.candidates < 1) {
    return absl::InvalidArgumentError(
        "retriever: rrf_k must be positive, weights non-negative and candidates at least 1");
  }
  auto info = store->GetCollection(collection);
  if (!info.ok()) return info.status();
  if (index->dim() != info->encoder.dim) {
    return absl::InvalidArgumentError(absl::StrCat("retriever: the vector index has dimension ", index->dim(),
                                                   ", collection ", collection, " ", info->encoder.dim));
  }
  if (embedder != nullptr && embedder->dim() != info->encoder.dim) {
    return absl::InvalidArgumentError(absl::StrCat("retriever: the encoder embeds in dimension ", embedder->dim(),
                                                   ", collection ", collection, " has ", info->encoder.dim));
  }
  return std::unique_ptr<Retriever>(new Retriever(store, std::move(collection), index, embedder, options));
}

absl::StatusOr<Retriever::DenseList> Retriever::DenseSearch(std::span<const float> query, int n,
                                                            const SearchFilter& filter) const {
  DenseList out;
  // Without metadata filters every vector of the index qualifies. With them,
  // ask FAISS for more until n matching chunks are found or the index is
  // exhausted.
  int64_t ask = n;
  while (true) {
    auto hits = index_->Search(query, static_cast<int>(std::min<int64_t>(ask, INT32_MAX)));
    if (!hits.ok()) return hits.status();
    if (filter.metadata.empty()) {
      for (const VectorHit& h : *hits) {
        out.ids.push_back(h.chunk_id);
        out.scores.push_back(h.score);
      }
      return out;
    }
    std::vector<int64_t> ids;
    for (const VectorHit& h : *hits) ids.push_back(h.chunk_id);
    auto matching = store_->GetChunks(ids, &filter);
    if (!matching.ok()) return matching.status();
    absl::flat_hash_set<int64_t> keep;
    for (const ChunkRecord& c : *matching) keep.insert(c.id);
    out = DenseList();
    for (const VectorHit& h : *hits) {
      if (static_cast<int>(out.ids.size()) == n) break;
      if (!keep.contains(h.chunk_id)) continue;
      out.ids.push_back(h.chunk_id);
      out.scores.push_back(h.score);
    }
    const bool exhausted = static_cast<int64_t>(hits->size()) < ask || ask >= index_->size();
    if (static_cast<int>(out.ids.size()) >= n || exhausted) return out;
    ask *= 4;
  }
}

absl::StatusOr<std::vector<RetrievalResult>> Retriever::Search(const RetrievalRequest& request) const {
  if (request.k < 1) return std::vector<RetrievalResult>();
  std::vector<float> query = request.query_vector;
  if (request.mode != RetrievalMode::kLexical) {
    if (query.empty()) {
      if (embedder_ == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat(std::string(RetrievalModeName(request.mode)), " search needs the collection's encoder"));
      }
      auto v = embedder_->Embed(std::span<const std::string>(&request.query, 1));
      if (!v.ok()) return v.status();
      query = std::move(*v);
    }
    if (static_cast<int64_t>(query.size()) != index_->dim()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query vector has dimension ", query.size(), ", collection ", collection_, " ", index_->dim()));
    }
  }
  // Candidates replaced by a concurrent ingestion drop out when the chunks are
  // read; searching again then finds their new versions.
  constexpr int kAttempts = 3;
  absl::StatusOr<std::vector<RetrievalResult>> results;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    bool dropped = false;
    results = SearchOnce(request, query, &dropped);
    if (!results.ok() || !dropped || static_cast<int>(results->size()) == request.k) break;
  }
  return results;
}

absl::StatusOr<std::vector<RetrievalResult>> Retriever::SearchOnce(const RetrievalRequest& request,
                                                                   std::span<const float> query,
                                                                   bool* dropped) const {
  std::vector<RetrievalResult> results;
  const int candidates = std::max(options_.candidates, request.k);
  SearchFilter filter{.collection = collection_, .metadata = request.metadata};

  DenseList dense;
  if (request.mode != RetrievalMode::kLexical) {
    auto d = DenseSearch(query, candidates, filter);
    if (!d.ok()) return d.status();
    dense = std::move(*d);
  }
  std::vector<LexicalHit> lexical;
  if (request.mode != RetrievalMode::kDense) {
    auto hits = store_->LexicalSearch(filter, request.query, candidates);
    if (!hits.ok()) return hits.status();
    lexical = std::move(*hits);
  }

  absl::flat_hash_map<int64_t, float> dense_score;
  for (size_t i = 0; i < dense.ids.size(); ++i) dense_score.try_emplace(dense.ids[i], dense.scores[i]);
  absl::flat_hash_map<int64_t, double> lexical_score;
  std::vector<int64_t> lexical_ids;
  for (const LexicalHit& h : lexical) {
    lexical_score.try_emplace(h.chunk_id, h.score);
    lexical_ids.push_back(h.chunk_id);
  }
  std::vector<FusedRank> ranking = FuseReciprocalRank(dense.ids, lexical_ids, options_);
  if (request.mode != RetrievalMode::kHybrid) {
    // One list: its own scores, in its own order (the fusion kept that order).
    for (FusedRank& f : ranking) {
      f.score = request.mode == RetrievalMode::kDense ? dense_score.at(f.id) : lexical_score.at(f.id);
    }
  }

  // One read of every candidate: one snapshot, so whole document versions
  // only; chunks deleted since the searches drop out here.
  std::vector<int64_t> ids;
  absl::flat_hash_map<int64_t, const FusedRank*> by_id;
  for (const FusedRank& f : ranking) {
    ids.push_back(f.id);
    by_id[f.id] = &f;
  }
  auto chunks = store_->GetChunks(ids, &filter);
  if (!chunks.ok()) return chunks.status();
  // Both lists hold only chunks that matched the filter when searched, so a
  // missing one was deleted since.
  *dropped = chunks->size() < ids.size();
  for (ChunkRecord& c : *chunks) {
    if (static_cast<int>(results.size()) == request.k) break;
    const FusedRank& f = *by_id.at(c.id);
    RetrievalResult r;
    r.chunk_id = c.id;
    r.document_id = c.document_id;
    r.external_id = std::move(c.external_id);
    r.title = std::move(c.title);
    r.source = std::move(c.source);
    r.heading_path = std::move(c.heading_path);
    r.text = std::move(c.text);
    r.score = f.score;
    r.dense_rank = f.dense_rank;
    r.lexical_rank = f.lexical_rank;
    if (auto it = dense_score.find(c.id); it != dense_score.end()) r.dense_score = it->second;
    if (auto it = lexical_score.find(c.id); it != lexical_score.end()) r.lexical_score = it->second;
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace tinyrag
