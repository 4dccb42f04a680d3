#include "service/cli/knowledge_base.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace tinyrag::cli {

absl::StatusOr<std::unique_ptr<SqliteStore>> OpenDataDir(const std::string& data_dir, DataDirAccess access) {
  auto store = SqliteStore::Open(data_dir, access);
  if (store.ok() || !absl::IsFailedPrecondition(store.status())) return store;
  if (DataDirLock::OwnedByServer(store.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        store.status().message(),
        "; while the server runs, go through it (tinyrag ingest|ask --server ADDR) or stop it first"));
  }
  if (std::string(store.status().message()).find("in use by") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        store.status().message(),
        "; one process writes a data dir at a time: wait for it to finish (searches and docs list can run "
        "meanwhile)"));
  }
  return store;
}

absl::StatusOr<std::unique_ptr<VectorIndex>> OpenCollectionIndex(SqliteStore& store, const std::string& collection) {
  auto info = store.GetCollection(collection);
  if (!info.ok()) {
    if (absl::IsNotFound(info.status())) {
      return absl::NotFoundError(absl::StrCat("no collection \"", collection, "\" in data dir ", store.data_dir()));
    }
    return info.status();
  }
  auto index = VectorIndex::Open(&store, collection, VectorIndex::DefaultPath(store.data_dir(), *info));
  if (!index.ok()) return index.status();
  const VectorIndexOpenReport& r = (*index)->open_report();
  if (store.access() != DataDirAccess::kRead && (r.rebuilt || r.changes_applied > 0)) {
    if (absl::Status s = SaveIndex(store, **index, collection); !s.ok()) return s;
  }
  return index;
}

absl::StatusOr<EncodedKnowledgeBase> OpenWithEncoder(const std::string& data_dir, const std::string& encoder,
                                                     int threads, const std::string& collection) {
  EncodedKnowledgeBase kb;
  auto store = OpenDataDir(data_dir);
  if (!store.ok()) return store.status();
  kb.store = std::move(*store);
  auto embedder = EncoderEmbedder::Load(encoder, threads);
  if (!embedder.ok()) return embedder.status();
  kb.embedder = std::move(*embedder);
  // The collection must exist before its index can be opened.
  if (auto c = kb.store->EnsureCollection(collection, kb.embedder->identity()); !c.ok()) return c.status();
  auto index = OpenCollectionIndex(*kb.store, collection);
  if (!index.ok()) return index.status();
  kb.index = std::move(*index);
  return kb;
}

absl::Status SaveIndex(SqliteStore& store, VectorIndex& index, const std::string& collection) {
  if (absl::Status s = index.Save(); !s.ok()) return s;
  return store.PruneChanges(collection, index.last_change());
}

std::string AbsoluteSource(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) abs = fs::absolute(path, ec).lexically_normal();
  return abs.string();
}

ProgressLine::ProgressLine() : enabled_(isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (printed_) std::fputc('\n', stderr);
}

void ProgressLine::Update(const IngestProgress& p) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (printed_ && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  printed_ = true;
  std::string files = p.files_total > 0 ? absl::StrCat("files ", p.files_done, "/", p.files_total, "  ") : "";
  std::string eta = p.eta_seconds >= 0 ? absl::StrCat(static_cast<int64_t>(p.eta_seconds + 0.5), " s") : "?";
  std::fprintf(stderr, "\r%sdocuments %lld  chunks %lld  %.1f chunks/s  ETA %s   ", files.c_str(),
               static_cast<long long>(p.documents_done), static_cast<long long>(p.chunks_done), p.chunks_per_second,
               eta.c_str());
  std::fflush(stderr);
}

nlohmann::json SummaryJson(const IngestSummary& s, const std::string& collection) {
  nlohmann::json failures = nlohmann::json::array();
  for (const IngestFailure& f : s.failures) {
    failures.push_back({{"source", f.source}, {"line", f.line}, {"message", f.message}});
  }
  return {{"collection", collection},
          {"files", s.files},
          {"documents_added", s.documents_added},
          {"documents_updated", s.documents_updated},
          {"documents_unchanged", s.documents_unchanged},
          {"documents_failed", s.documents_failed},
          {"documents_deleted", s.documents_deleted},
          {"chunks_added", s.chunks_added},
          {"chunks_removed", s.chunks_removed},
          {"seconds", s.seconds},
          {"embed_seconds", s.embed_seconds},
          {"failures", failures}};
}

void ReportFailures(const IngestSummary& s) {
  for (const IngestFailure& f : s.failures) {
    const std::string where = f.line > 0 ? absl::StrCat(f.source, ":", f.line) : f.source;
    // Extraction messages usually name the source already.
    if (f.message.rfind(f.source, 0) == 0) {
      std::fprintf(stderr, "tinyrag: skipped %s\n", f.message.c_str());
    } else {
      std::fprintf(stderr, "tinyrag: skipped %s: %s\n", where.c_str(), f.message.c_str());
    }
  }
}

}  // namespace tinyrag::cli
