#include "service/server/knowledge.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace tinyrag::server {

ServerKnowledgeBase::ServerKnowledgeBase(std::unique_ptr<SqliteStore> store, std::unique_ptr<EncoderEmbedder> embedder,
                                         KnowledgeOptions options)
    : store_(std::move(store)), embedder_(std::move(embedder)), options_(std::move(options)) {}

ServerKnowledgeBase::~ServerKnowledgeBase() { (void)SaveIndexes(); }

absl::StatusOr<ServerKnowledgeBase::Collection*> ServerKnowledgeBase::Get(const std::string& name, bool create) {
  absl::MutexLock lock(&mu_);
  if (auto it = collections_.find(name); it != collections_.end()) return it->second.get();
  absl::StatusOr<CollectionInfo> info = create ? store_->EnsureCollection(name, embedder_->identity())
                                               : store_->GetCollection(name);
  if (!info.ok()) {
    // A request naming a collection that does not exist is a bad request.
    if (absl::IsNotFound(info.status())) {
      return absl::InvalidArgumentError(absl::StrCat("no collection \"", name, "\" on this server"));
    }
    return info.status();
  }
  auto c = std::make_unique<Collection>();
  auto index = VectorIndex::Open(store_.get(), name, VectorIndex::DefaultPath(store_->data_dir(), *info),
                                 options_.vector_index);
  if (!index.ok()) return index.status();
  c->index = std::move(*index);
  // A collection of another encoder keeps its lexical search; the dense side
  // would compare incomparable vectors, so it gets no embedder.
  const bool same_encoder = info->encoder == embedder_->identity();
  auto retriever = Retriever::Create(store_.get(), name, c->index.get(), same_encoder ? embedder_.get() : nullptr,
                                     options_.retrieval);
  if (!retriever.ok()) return retriever.status();
  c->retriever = std::move(*retriever);
  if (same_encoder) {
    IngestOptions ingest;
    ingest.chunker = options_.chunker;
    ingest.save_index = false;  // Ingest and SaveIndexes decide when
    auto ingestor = Ingestor::Create(store_.get(), c->index.get(), embedder_.get(), name, ingest);
    if (!ingestor.ok()) return ingestor.status();
    c->ingestor = std::move(*ingestor);
  }
  Collection* out = c.get();
  collections_.emplace(name, std::move(c));
  return out;
}

absl::StatusOr<std::vector<RetrievalResult>> ServerKnowledgeBase::Search(const std::string& collection,
                                                                         const RetrievalRequest& request) {
  auto c = Get(collection, /*create=*/false);
  if (!c.ok()) return c.status();
  return (*c)->retriever->Search(request);
}

absl::StatusOr<std::vector<IngestOutcome>> ServerKnowledgeBase::Ingest(const std::string& collection,
                                                                       std::span<const Document> documents) {
  auto got = Get(collection, /*create=*/true);
  if (!got.ok()) return got.status();
  Collection& c = **got;
  if (c.ingestor == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection \"", collection, "\" was built with another encoder than the server's"));
  }
  absl::MutexLock write(&c.write_mu);
  // What each document will be, from the stored hashes: the summary only
  // counts, and writes to this collection are serialized here.
  std::vector<IngestOutcome> out(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    auto stored = store_->FindDocument(collection, documents[i].external_id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) {
      out[i].status = IngestOutcome::Status::kAdded;
    } else if ((*stored)->content_hash == c.ingestor->StoredHash(documents[i])) {
      out[i].status = IngestOutcome::Status::kUnchanged;
    } else {
      out[i].status = IngestOutcome::Status::kUpdated;
    }
  }
  auto summary = c.ingestor->IngestDocuments(documents);
  if (!summary.ok()) return summary.status();
  if (absl::Now() - c.saved_at >= kIndexSaveInterval) {
    if (absl::Status s = SaveIndex(collection, c); !s.ok()) return s;
  }
  for (const IngestFailure& f : summary->failures) {
    for (size_t i = 0; i < documents.size(); ++i) {
      if (documents[i].source == f.source && out[i].status != IngestOutcome::Status::kFailed) {
        out[i] = {.status = IngestOutcome::Status::kFailed, .error = f.message};
        break;
      }
    }
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    if (out[i].status == IngestOutcome::Status::kFailed) continue;
    auto stored = store_->FindDocument(collection, documents[i].external_id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) {
      out[i] = {.status = IngestOutcome::Status::kFailed, .error = "not stored"};
      continue;
    }
    out[i].document_id = (*stored)->id;
    out[i].chunks = (*stored)->chunk_count;
  }
  return out;
}

absl::StatusOr<int64_t> ServerKnowledgeBase::Delete(const std::string& collection,
                                                    std::span<const int64_t> document_ids,
                                                    std::span<const std::string> sources) {
  auto got = Get(collection, /*create=*/false);
  if (!got.ok()) return got.status();
  Collection& c = **got;
  absl::MutexLock write(&c.write_mu);
  // Only documents of this collection may go: a key allowed here must not
  // delete elsewhere (ids of other collections count as not found).
  absl::flat_hash_set<int64_t> seen;
  std::vector<int64_t> found;
  for (int64_t id : document_ids) {
    if (!seen.insert(id).second) continue;
    auto doc = store_->GetDocument(id);
    if (!doc.ok()) return doc.status();
    if (doc->has_value() && (*doc)->collection == collection) found.push_back(id);
  }
  int64_t deleted = 0;
  for (int64_t id : found) {
    absl::StatusOr<DocumentInfo> gone =
        c.ingestor != nullptr ? c.ingestor->DeleteDocument(id) : store_->DeleteDocument(id);
    if (gone.ok()) {
      ++deleted;
    } else if (!absl::IsNotFound(gone.status())) {  // NotFound: deleted meanwhile
      return gone.status();
    }
  }
  for (const std::string& source : sources) {
    absl::StatusOr<int64_t> n = c.ingestor != nullptr ? c.ingestor->DeleteBySource(source)
                                                      : store_->DeleteBySource(collection, source);
    if (!n.ok()) return n.status();
    deleted += *n;
  }
  if (c.ingestor == nullptr) {
    if (absl::Status s = c.index->CatchUp(); !s.ok()) return s;
  }
  return deleted;
}

absl::StatusOr<std::vector<DocumentInfo>> ServerKnowledgeBase::List(const std::string& collection, int64_t offset,
                                                                    int limit) {
  if (auto c = Get(collection, /*create=*/false); !c.ok()) return c.status();
  return store_->ListDocuments(collection, {.offset = offset, .limit = limit, .source = {}, .source_prefix = {}});
}

absl::StatusOr<bool> ServerKnowledgeBase::HasCollection(const std::string& collection) {
  auto c = store_->GetCollection(collection);
  if (c.ok()) return true;
  if (absl::IsNotFound(c.status())) return false;
  return c.status();
}

absl::Status ServerKnowledgeBase::SaveIndexes() {
  std::vector<std::pair<std::string, Collection*>> opened;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, c] : collections_) opened.emplace_back(name, c.get());
  }
  absl::Status first;
  for (auto& [name, c] : opened) {
    absl::MutexLock write(&c->write_mu);
    if (absl::Status s = SaveIndex(name, *c); !s.ok() && first.ok()) first = s;
  }
  return first;
}

absl::Status ServerKnowledgeBase::SaveIndex(const std::string& name, Collection& c) {
  const int64_t change = c.index->last_change();
  if (change == c.saved_change) return absl::OkStatus();
  absl::Status s = c.index->Save();
  if (s.ok()) s = store_->PruneChanges(name, change);
  if (!s.ok()) return s;
  c.saved_change = change;
  c.saved_at = absl::Now();
  return absl::OkStatus();
}

}  // namespace tinyrag::server
