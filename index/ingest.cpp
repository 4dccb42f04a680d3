#include "index/ingest.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct FileEntry {
  std::string path;  // absolute, normalized: the document's source and id
  int64_t bytes = 0;
};

// An absolute, normalized spelling of `path`, so "docs/a.md" and
// "./docs/a.md" are the same document on every run.
std::string AbsolutePath(const fs::path& path) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) abs = fs::absolute(path, ec).lexically_normal();
  return abs.string();
}

// The size for the progress estimate; 0 when unknown (reading reports the problem).
int64_t FileBytes(const fs::path& p) {
  std::error_code ec;
  const uintmax_t n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

bool Hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Every file named by `paths`, folders walked recursively in name order,
// each file once. Paths that cannot be listed become failures.
std::vector<FileEntry> ListFiles(std::span<const std::string> paths, std::vector<IngestFailure>* failures) {
  std::vector<FileEntry> files;
  for (const std::string& given : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(given, ec);
    if (ec || !fs::exists(st)) {
      failures->push_back({given, 0, absl::StrCat(given, ": no such file or folder")});
      continue;
    }
    if (!fs::is_directory(st)) {
      files.push_back({AbsolutePath(given), FileBytes(given)});
      continue;
    }
    std::vector<FileEntry> found;
    fs::recursive_directory_iterator it(given, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      failures->push_back({given, 0, absl::StrCat(given, ": cannot list the folder: ", ec.message())});
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        failures->push_back({given, 0, absl::StrCat(given, ": cannot list the folder: ", ec.message())});
        break;
      }
      if (Hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      found.push_back({AbsolutePath(it->path()), FileBytes(it->path())});
    }
    std::sort(found.begin(), found.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    files.insert(files.end(), found.begin(), found.end());
  }
  // A file named twice (itself and inside a folder given too) is ingested once.
  absl::flat_hash_set<std::string> seen;
  std::vector<FileEntry> unique;
  for (FileEntry& f : files) {
    if (seen.insert(f.path).second) unique.push_back(std::move(f));
  }
  return unique;
}

// Errors that say something about one document's input rather than about the
// store or the index as a whole.
bool IsDocumentError(const absl::Status& s) { return absl::IsInvalidArgument(s); }

}  // namespace

// The state of one IngestPaths / IngestDocuments call.
class Ingestor::Run {
 public:
  Run(Ingestor& ing, const IngestProgressFn& progress, int64_t files_total)
      : ing_(ing), progress_(progress), start_(Clock::now()), last_save_(start_) {
    progress_state_.files_total = files_total;
  }

  // Queues one extracted document: skipped when unchanged, else chunked and
  // held until enough chunks wait for an embedding batch.
  absl::Status Add(const Document& doc) {
    const std::string hash = ing_.StoredHash(doc);
    auto found = ing_.store_->FindDocument(ing_.collection_, doc.external_id);
    if (!found.ok()) return found.status();
    if (found->has_value() && (*found)->content_hash == hash) {
      const DocumentInfo& stored = **found;
      if (stored.source == doc.source && stored.title == doc.title && stored.metadata == doc.metadata) {
        ++summary_.documents_unchanged;
        ++progress_state_.documents_done;
        return absl::OkStatus();
      }
      // Same embedded text: the store updates the other fields and keeps
      // the chunks, so no chunking or embedding either.
      DocumentInput fields;
      fields.external_id = doc.external_id;
      fields.source = doc.source;
      fields.title = doc.title;
      fields.content_hash = hash;
      fields.metadata = doc.metadata;
      auto r = ing_.store_->UpsertDocument(ing_.collection_, fields);
      if (!r.ok()) {
        if (!IsDocumentError(r.status())) return r.status();
        return Fail(doc.source, 0, std::string(r.status().message()));
      }
      ++progress_state_.documents_done;
      ++(r->outcome == UpsertOutcome::kUnchanged ? summary_.documents_unchanged : summary_.documents_updated);
      return absl::OkStatus();
    }
    auto chunks = ing_.chunker_.ChunkDocument(doc);
    if (!chunks.ok()) return Fail(doc.source, 0, std::string(chunks.status().message()));
    if (chunks->empty()) return Fail(doc.source, 0, absl::StrCat(doc.source, ": no text to index"));
    Pending p;
    p.input.external_id = doc.external_id;
    p.input.source = doc.source;
    p.input.title = doc.title;
    p.input.content_hash = hash;
    p.input.metadata = doc.metadata;
    for (Chunk& c : *chunks) {
      ChunkInput in;
      in.text = std::move(c.text);
      in.token_count = static_cast<int32_t>(c.token_count);
      in.heading_path = absl::StrJoin(c.heading_path, " > ");
      p.input.chunks.push_back(std::move(in));
      p.embed_texts.push_back(std::move(c.embed_text));
    }
    pending_chunks_ += static_cast<int64_t>(p.embed_texts.size());
    pending_.push_back(std::move(p));
    if (pending_chunks_ >= ing_.options_.embed_batch_chunks) return Flush();
    return absl::OkStatus();
  }

  // Embeds every queued document's chunks in one call, then writes each
  // document in its own transaction and lets the vector index catch up.
  absl::Status Flush() {
    if (pending_.empty()) return absl::OkStatus();
    std::vector<std::string> texts;
    texts.reserve(pending_chunks_);
    for (Pending& p : pending_) {
      for (std::string& t : p.embed_texts) texts.push_back(std::move(t));
    }
    const auto embed_start = Clock::now();
    auto vectors = ing_.embedder_->Embed(texts);
    summary_.embed_seconds += SecondsSince(embed_start);
    if (!vectors.ok()) return vectors.status();
    const int64_t dim = ing_.embedder_->dim();
    if (static_cast<int64_t>(vectors->size()) != static_cast<int64_t>(texts.size()) * dim) {
      return absl::InternalError(absl::StrCat("embedder returned ", vectors->size(), " values for ", texts.size(),
                                              " texts of dimension ", dim));
    }
    size_t row = 0;
    for (Pending& p : pending_) {
      for (ChunkInput& c : p.input.chunks) {
        c.embedding.assign(vectors->begin() + row * dim, vectors->begin() + (row + 1) * dim);
        ++row;
      }
      auto r = ing_.store_->UpsertDocument(ing_.collection_, p.input);
      ++progress_state_.documents_done;
      if (!r.ok()) {
        if (!IsDocumentError(r.status())) return r.status();
        summary_.failures.push_back({p.input.source, 0, std::string(r.status().message())});
        ++summary_.documents_failed;
        continue;
      }
      switch (r->outcome) {
        case UpsertOutcome::kAdded: ++summary_.documents_added; break;
        case UpsertOutcome::kUpdated: ++summary_.documents_updated; break;
        case UpsertOutcome::kUnchanged: ++summary_.documents_unchanged; break;
      }
      summary_.chunks_added += r->chunks_added;
      summary_.chunks_removed += r->chunks_removed;
      progress_state_.chunks_done += r->chunks_added;
      // At once, so that concurrent dense searches meet the replaced chunk
      // ids (which the store no longer has) for as short a time as possible.
      if (absl::Status s = ing_.index_->CatchUp(); !s.ok()) return s;
    }
    pending_.clear();
    pending_chunks_ = 0;
    if (ing_.options_.save_index && SecondsSince(last_save_) >= ing_.options_.snapshot_interval_seconds) {
      if (absl::Status s = Snapshot(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Saves the vector index and lets the store forget the changes it holds
  // (one index per collection and data dir, guarded by the data-dir lock).
  absl::Status Snapshot() {
    last_save_ = Clock::now();
    if (absl::Status s = ing_.index_->Save(); !s.ok()) return s;
    return ing_.store_->PruneChanges(ing_.collection_, ing_.index_->last_change());
  }

  absl::Status Fail(std::string_view source, int64_t line, std::string_view message) {
    summary_.failures.push_back({std::string(source), line, std::string(message)});
    ++summary_.documents_failed;
    ++progress_state_.documents_done;
    return absl::OkStatus();
  }

  // `fraction` of the work done, for the ETA.
  void Report(double fraction) {
    if (!progress_) return;
    IngestProgress& p = progress_state_;
    p.seconds = SecondsSince(start_);
    p.chunks_per_second = p.seconds > 0 ? static_cast<double>(p.chunks_done) / p.seconds : 0;
    p.eta_seconds = fraction > 0 && fraction <= 1 ? p.seconds * (1 - fraction) / fraction : -1;
    progress_(p);
  }

  void FileDone() { ++progress_state_.files_done; }

  // Deletes the collection's documents whose source lies under `folder` (an
  // absolute, normalized path), is not among `listed` and does not exist.
  absl::Status DeleteMissing(const std::string& folder, const absl::flat_hash_set<std::string>& listed) {
    const std::string prefix = folder.ends_with('/') ? folder : folder + "/";
    std::vector<DocumentInfo> gone;
    ListDocumentsOptions page{.offset = 0, .limit = 1000, .source = "", .source_prefix = prefix};
    for (;;) {
      auto docs = ing_.store_->ListDocuments(ing_.collection_, page);
      if (!docs.ok()) return docs.status();
      for (DocumentInfo& d : *docs) {
        if (listed.contains(d.source)) continue;
        // Only a source known to be absent: a listing error must not delete.
        std::error_code ec;
        const bool exists = fs::exists(fs::symlink_status(d.source, ec));
        if (!exists && (!ec || ec == std::errc::no_such_file_or_directory)) gone.push_back(std::move(d));
      }
      if (static_cast<int64_t>(docs->size()) < page.limit) break;
      page.offset += page.limit;
    }
    for (const DocumentInfo& d : gone) {
      auto deleted = ing_.store_->DeleteDocument(d.id);
      if (absl::IsNotFound(deleted.status())) continue;  // deleted meanwhile
      if (!deleted.ok()) return deleted.status();
      ++summary_.documents_deleted;
      summary_.chunks_removed += deleted->chunk_count;
    }
    return absl::OkStatus();
  }

  // Deletes the collection's documents from `source` (a .jsonl file read
  // without errors) whose external id is not among `ids`: records removed
  // from the file.
  absl::Status DeleteMissingRecords(const std::string& source, const absl::flat_hash_set<std::string>& ids) {
    std::vector<DocumentInfo> gone;
    ListDocumentsOptions page{.offset = 0, .limit = 1000, .source = source, .source_prefix = ""};
    for (;;) {
      auto docs = ing_.store_->ListDocuments(ing_.collection_, page);
      if (!docs.ok()) return docs.status();
      for (DocumentInfo& d : *docs) {
        if (!ids.contains(d.external_id)) gone.push_back(std::move(d));
      }
      if (static_cast<int64_t>(docs->size()) < page.limit) break;
      page.offset += page.limit;
    }
    for (const DocumentInfo& d : gone) {
      auto deleted = ing_.store_->DeleteDocument(d.id);
      if (absl::IsNotFound(deleted.status())) continue;  // deleted meanwhile
      if (!deleted.ok()) return deleted.status();
      ++summary_.documents_deleted;
      summary_.chunks_removed += deleted->chunk_count;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<IngestSummary> Finish() {
    if (absl::Status s = Flush(); !s.ok()) return s;
    if (absl::Status s = ing_.index_->CatchUp(); !s.ok()) return s;
    if (ing_.options_.save_index) {
      if (absl::Status s = Snapshot(); !s.ok()) return s;
    }
    Report(1.0);
    summary_.seconds = SecondsSince(start_);
    return std::move(summary_);
  }

  IngestSummary& summary() { return summary_; }

 private:
  struct Pending {
    DocumentInput input;                  // chunks without embeddings yet
    std::vector<std::string> embed_texts;  // one per chunk
  };

  Ingestor& ing_;
  const IngestProgressFn& progress_;
  const Clock::time_point start_;
  Clock::time_point last_save_;
  IngestSummary summary_;
  IngestProgress progress_state_;
  std::vector<Pending> pending_;
  int64_t pending_chunks_ = 0;
};

absl::StatusOr<std::unique_ptr<Ingestor>> Ingestor::Create(DocumentStore* store, VectorIndex* index,
                                                           const Embedder* embedder, std::string collection,
                                                           const IngestOptions& options) {
  if (store == nullptr || index == nullptr || embedder == nullptr) {
    return absl::InvalidArgumentError("ingest: store, vector index and embedder are required");
  }
  auto info = store->EnsureCollection(collection, embedder->identity());
  if (!info.ok()) return info.status();
  if (index->dim() != embedder->dim()) {
    return absl::InvalidArgumentError(absl::StrCat("ingest: the vector index has dimension ", index->dim(),
                                                   " but the encoder embeds in ", embedder->dim()));
  }
  if (options.embed_batch_chunks < 1) {
    return absl::InvalidArgumentError("ingest: embed_batch_chunks must be at least 1");
  }
  IngestOptions opts = options;
  if (opts.chunker.max_model_tokens == 0) opts.chunker.max_model_tokens = embedder->max_tokens();
  auto chunker = Chunker::Create(*embedder, opts.chunker);
  if (!chunker.ok()) return chunker.status();
  return std::unique_ptr<Ingestor>(
      new Ingestor(store, index, embedder, std::move(collection), std::move(opts), std::move(*chunker)));
}

std::string Ingestor::StoredHash(const Document& doc) const {
  const ChunkerOptions& c = chunker_.options();
  return absl::StrCat(doc.content_hash, ":chunk", c.target_tokens, "/", c.overlap_tokens, "/", c.max_model_tokens,
                      "/", c.max_context_tokens);
}

absl::StatusOr<IngestSummary> Ingestor::IngestPaths(std::span<const std::string> paths,
                                                    const IngestProgressFn& progress) {
  absl::MutexLock lock(&run_mu_);
  std::vector<IngestFailure> listing_failures;
  const std::vector<FileEntry> files = ListFiles(paths, &listing_failures);
  int64_t bytes_total = 0;
  for (const FileEntry& f : files) bytes_total += std::max<int64_t>(f.bytes, 1);

  Run run(*this, progress, static_cast<int64_t>(files.size()));
  run.summary().files = static_cast<int64_t>(files.size());
  for (const IngestFailure& f : listing_failures) {
    if (absl::Status s = run.Fail(f.source, f.line, f.message); !s.ok()) return s;
  }
  int64_t bytes_done = 0;
  // The record ids of each .jsonl file read without a bad line.
  std::vector<std::pair<std::string, absl::flat_hash_set<std::string>>> record_files;
  for (const FileEntry& file : files) {
    auto extracted = ExtractFile(file.path, options_.extract);
    if (!extracted.ok()) {
      if (absl::Status s = run.Fail(file.path, 0, std::string(extracted.status().message())); !s.ok()) return s;
    } else {
      if (options_.delete_missing && file.path.ends_with(".jsonl") && extracted->issues.empty()) {
        absl::flat_hash_set<std::string> ids;
        for (const Document& doc : extracted->documents) ids.insert(doc.external_id);
        record_files.emplace_back(file.path, std::move(ids));
      }
      for (const ExtractIssue& issue : extracted->issues) {
        if (absl::Status s = run.Fail(issue.source, issue.line, issue.message); !s.ok()) return s;
      }
      for (const Document& doc : extracted->documents) {
        if (absl::Status s = run.Add(doc); !s.ok()) return s;
      }
    }
    bytes_done += std::max<int64_t>(file.bytes, 1);
    run.FileDone();
    run.Report(static_cast<double>(bytes_done) / static_cast<double>(bytes_total));
  }
  if (options_.delete_missing) {
    absl::flat_hash_set<std::string> listed;
    for (const FileEntry& f : files) listed.insert(f.path);
    for (const std::string& given : paths) {
      std::error_code ec;
      if (!fs::is_directory(given, ec)) continue;
      if (absl::Status s = run.DeleteMissing(AbsolutePath(given), listed); !s.ok()) return s;
    }
    for (const auto& [source, ids] : record_files) {
      if (absl::Status s = run.DeleteMissingRecords(source, ids); !s.ok()) return s;
    }
  }
  return run.Finish();
}

absl::StatusOr<IngestSummary> Ingestor::IngestDocuments(std::span<const Document> documents,
                                                        const IngestProgressFn& progress) {
  absl::MutexLock lock(&run_mu_);
  Run run(*this, progress, 0);
  for (size_t i = 0; i < documents.size(); ++i) {
    if (absl::Status s = run.Add(documents[i]); !s.ok()) return s;
    run.Report(static_cast<double>(i + 1) / static_cast<double>(documents.size()));
  }
  return run.Finish();
}

absl::StatusOr<DocumentInfo> Ingestor::DeleteDocument(int64_t document_id) {
  auto deleted = store_->DeleteDocument(document_id);
  if (!deleted.ok()) return deleted.status();
  if (absl::Status s = index_->CatchUp(); !s.ok()) return s;
  return deleted;
}

absl::StatusOr<int64_t> Ingestor::DeleteBySource(std::string_view source) {
  auto n = store_->DeleteBySource(collection_, source);
  if (!n.ok()) return n.status();
  if (absl::Status s = index_->CatchUp(); !s.ok()) return s;
  return n;
}

}  // namespace tinyrag
