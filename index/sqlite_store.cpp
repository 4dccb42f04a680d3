#include "index/sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "index/sqlite_store_schema.h"

namespace tinyrag {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DescribeEncoder(const EncoderIdentity& e) {
  return absl::StrCat("'", e.name, "' (dim ", e.dim, ", hash ", e.file_hash.empty() ? "none" : e.file_hash, ")");
}

// Columns read by ReadDocument, in order; `d` is documents, `k` collections.
constexpr char kDocumentColumns[] =
    "d.id, k.name, d.external_id, d.source, d.title, d.content_hash, d.metadata, d.created_ms, d.updated_ms, "
    "(SELECT COUNT(*) FROM chunks c WHERE c.document_id = d.id)";

DocumentInfo ReadDocument(const Statement& st) {
  DocumentInfo info;
  info.id = st.Int(0);
  info.collection = st.Text(1);
  info.external_id = st.Text(2);
  info.source = st.Text(3);
  info.title = st.Text(4);
  info.content_hash = st.Text(5);
  // The schema's json_valid CHECK guarantees it parses.
  info.metadata = nlohmann::json::parse(st.Text(6), nullptr, /*allow_exceptions=*/false);
  info.created_ms = st.Int(7);
  info.updated_ms = st.Int(8);
  info.chunk_count = st.Int(9);
  return info;
}

absl::Status ValidateDocument(const DocumentInput& doc, const CollectionInfo& coll) {
  if (doc.external_id.empty()) return absl::InvalidArgumentError("document has an empty external id");
  if (!doc.metadata.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("document '", doc.external_id, "': metadata must be a JSON object"));
  }
  for (size_t i = 0; i < doc.chunks.size(); ++i) {
    const std::vector<float>& e = doc.chunks[i].embedding;
    if (static_cast<int64_t>(e.size()) != coll.encoder.dim) {
      return absl::InvalidArgumentError(absl::StrCat("document '", doc.external_id, "' chunk ", i, ": embedding has ",
                                                     e.size(), " values, collection '", coll.name, "' has dimension ",
                                                     coll.encoder.dim));
    }
    for (float v : e) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("document '", doc.external_id, "' chunk ", i, ": embedding has a non-finite value"));
      }
    }
  }
  return absl::OkStatus();
}

// Deletes document `id`'s embeddings and chunks inside the caller's
// transaction; the chunk trigger logs each removal and clears its FTS row.
absl::Status DeleteChunkRows(sqlite3* db, int64_t id) {
  for (const char* sql : {"DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
                          "DELETE FROM chunks WHERE document_id = ?"}) {
    absl::StatusOr<Statement> st = Statement::Prepare(db, sql);
    if (!st.ok()) return st.status();
    if (absl::Status s = st->Bind(1, id).Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DeleteDocumentRows(sqlite3* db, int64_t id) {
  if (absl::Status s = DeleteChunkRows(db, id); !s.ok()) return s;
  absl::StatusOr<Statement> st = Statement::Prepare(db, "DELETE FROM documents WHERE id = ?");
  if (!st.ok()) return st.status();
  return st->Bind(1, id).Run();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir) {
  return Open(data_dir, DataDirAccess::kExclusive);
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir, DataDirAccess access) {
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(data_dir, access);
  if (!lock.ok()) return lock.status();
  std::string path = (std::filesystem::path(data_dir) / kDatabaseFile).string();
  bool migrate = true;
  if (access == DataDirAccess::kRead) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat("data dir ", data_dir, " holds no knowledge base (no ", kDatabaseFile,
                                              "): ingest something first"));
    }
    // A current schema needs no write transaction, which would wait behind
    // the writer's.
    absl::StatusOr<sqlite::Connection> probe = sqlite::Open(path, /*read_only=*/true);
    if (!probe.ok()) return probe.status();
    absl::StatusOr<int64_t> version = sqlite::SchemaVersion(probe->get());
    if (!version.ok()) return version.status();
    migrate = *version != static_cast<int64_t>(sqlite::StoreMigrations().size());
  }
  absl::StatusOr<sqlite::Connection> writer = sqlite::Open(path, /*read_only=*/false);
  if (!writer.ok()) return writer.status();
  if (migrate) {
    if (absl::Status s = sqlite::Migrate(writer->get(), path, sqlite::StoreMigrations()); !s.ok()) return s;
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*lock), std::move(path), std::move(*writer)));
}

absl::Status SqliteStore::CheckWritable(std::string_view what) const {
  if (access() != DataDirAccess::kRead) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(std::string(what), ": data dir ", data_dir(),
                                                    " was opened for reading (another process may be writing it)"));
}

absl::StatusOr<CollectionInfo> SqliteStore::LoadCollection(sqlite3* db, std::string_view name) {
  absl::StatusOr<Statement> st = Statement::Prepare(
      db, "SELECT id, name, encoder_name, encoder_dim, encoder_hash, created_ms FROM collections WHERE name = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, name);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no collection named '", std::string(name), "'"));
  CollectionInfo info;
  info.id = st->Int(0);
  info.name = st->Text(1);
  info.encoder = {st->Text(2), st->Int(3), st->Text(4)};
  info.created_ms = st->Int(5);
  return info;
}

absl::StatusOr<CollectionInfo> SqliteStore::EnsureCollection(std::string_view name, const EncoderIdentity& encoder) {
  if (name.empty()) return absl::InvalidArgumentError("collection name is empty");
  if (encoder.dim < 1) {
    return absl::InvalidArgumentError(absl::StrCat("encoder ", DescribeEncoder(encoder), " has no dimension"));
  }
  if (absl::Status s = CheckWritable("create collection"); !s.ok()) return s;
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<Transaction> txn = Transaction::Begin(writer_.get(), /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> existing = LoadCollection(writer_.get(), name);
  if (existing.ok()) {
    if (existing->encoder == encoder) return existing;
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", std::string(name), "' holds embeddings of encoder ", DescribeEncoder(existing->encoder),
                     "; refusing encoder ", DescribeEncoder(encoder),
                     ": use the same encoder or another collection"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      writer_.get(),
      "INSERT INTO collections(name, encoder_name, encoder_dim, encoder_hash, created_ms) VALUES (?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  st->Bind(1, name).Bind(2, encoder.name).Bind(3, encoder.dim).Bind(4, encoder.file_hash).Bind(5, NowMs());
  if (absl::Status s = st->Run(); !s.ok()) return s;
  absl::StatusOr<CollectionInfo> created = LoadCollection(writer_.get(), name);
  if (!created.ok()) return created.status();
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return created;
}

absl::StatusOr<CollectionInfo> SqliteStore::GetCollection(std::string_view name) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  return LoadCollection(db->get(), name);
}

absl::StatusOr<std::vector<CollectionInfo>> SqliteStore::ListCollections() {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), "SELECT id, name, encoder_name, encoder_dim, encoder_hash, created_ms FROM collections ORDER BY name");
  if (!st.ok()) return st.status();
  std::vector<CollectionInfo> out;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({st->Int(0), st->Text(1), {st->Text(2), st->Int(3), st->Text(4)}, st->Int(5)});
  }
  return out;
}

absl::StatusOr<std::optional<DocumentInfo>> SqliteStore::FindDocument(std::string_view collection,
                                                                     std::string_view external_id) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), absl::StrCat("SELECT ", kDocumentColumns,
                              " FROM documents d JOIN collections k ON k.id = d.collection_id"
                              " WHERE d.collection_id = ? AND d.external_id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id).Bind(2, external_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<DocumentInfo>();
  return std::optional<DocumentInfo>(ReadDocument(*st));
}

absl::StatusOr<UpsertResult> SqliteStore::UpsertDocument(std::string_view collection, const DocumentInput& doc) {
  if (absl::Status s = CheckWritable("upsert document"); !s.ok()) return s;
  absl::MutexLock lock(&write_mu_);
  sqlite3* db = writer_.get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db, /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db, collection);
  if (!coll.ok()) return coll.status();
  if (absl::Status s = ValidateDocument(doc, *coll); !s.ok()) return s;

  absl::StatusOr<Statement> find = Statement::Prepare(
      db,
      "SELECT id, content_hash, (SELECT COUNT(*) FROM chunks c WHERE c.document_id = documents.id), source, title, "
      "metadata FROM documents WHERE collection_id = ? AND external_id = ?");
  if (!find.ok()) return find.status();
  find->Bind(1, coll->id).Bind(2, doc.external_id);
  absl::StatusOr<bool> found = find->Step();
  if (!found.ok()) return found.status();

  UpsertResult result;
  const std::string metadata = doc.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const int64_t now = NowMs();
  if (*found) {
    result.document_id = find->Int(0);
    const bool same_content = find->Text(1) == doc.content_hash;
    result.chunks_removed = find->Int(2);
    const bool same_fields = find->Text(3) == doc.source && find->Text(4) == doc.title &&
                             nlohmann::json::parse(find->Text(5), nullptr, /*allow_exceptions=*/false) == doc.metadata;
    find->Reset();
    if (same_content) {
      result.chunks_removed = 0;
      if (same_fields) return result;  // the transaction rolls back: nothing written
      // Only what is not embedded changed: the chunks and vectors stay.
      result.outcome = UpsertOutcome::kUpdated;
      absl::StatusOr<Statement> update = Statement::Prepare(
          db, "UPDATE documents SET source = ?, title = ?, metadata = ?, updated_ms = ? WHERE id = ?");
      if (!update.ok()) return update.status();
      update->Bind(1, doc.source).Bind(2, doc.title).Bind(3, metadata).Bind(4, now);
      if (absl::Status s = update->Bind(5, result.document_id).Run(); !s.ok()) return s;
      if (absl::Status s = txn->Commit(); !s.ok()) return s;
      return result;
    }
    result.outcome = UpsertOutcome::kUpdated;
    if (absl::Status s = DeleteChunkRows(db, result.document_id); !s.ok()) return s;
    absl::StatusOr<Statement> update = Statement::Prepare(
        db, "UPDATE documents SET source = ?, title = ?, content_hash = ?, metadata = ?, updated_ms = ? WHERE id = ?");
    if (!update.ok()) return update.status();
    update->Bind(1, doc.source).Bind(2, doc.title).Bind(3, doc.content_hash).Bind(4, metadata).Bind(5, now);
    if (absl::Status s = update->Bind(6, result.document_id).Run(); !s.ok()) return s;
  } else {
    result.outcome = UpsertOutcome::kAdded;
    absl::StatusOr<Statement> insert = Statement::Prepare(
        db,
        "INSERT INTO documents(collection_id, external_id, source, title, content_hash, metadata, created_ms, "
        "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!insert.ok()) return insert.status();
    insert->Bind(1, coll->id).Bind(2, doc.external_id).Bind(3, doc.source).Bind(4, doc.title);
    insert->Bind(5, doc.content_hash).Bind(6, metadata).Bind(7, now).Bind(8, now);
    if (absl::Status s = insert->Run(); !s.ok()) return s;
    result.document_id = static_cast<int64_t>(sqlite3_last_insert_rowid(db));
  }

  absl::StatusOr<Statement> chunk = Statement::Prepare(
      db,
      "INSERT INTO chunks(document_id, collection_id, position, text, token_count, heading_path) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  if (!chunk.ok()) return chunk.status();
  absl::StatusOr<Statement> vec = Statement::Prepare(db, "INSERT INTO embeddings(chunk_id, vector) VALUES (?, ?)");
  if (!vec.ok()) return vec.status();
  for (size_t i = 0; i < doc.chunks.size(); ++i) {
    const ChunkInput& c = doc.chunks[i];
    chunk->Bind(1, result.document_id).Bind(2, coll->id).Bind(3, static_cast<int64_t>(i)).Bind(4, c.text);
    chunk->Bind(5, static_cast<int64_t>(c.token_count)).Bind(6, c.heading_path);
    if (absl::Status s = chunk->Run(); !s.ok()) return s;
    if (absl::Status s = vec->Bind(1, static_cast<int64_t>(sqlite3_last_insert_rowid(db))).BindBlob(2, c.embedding).Run(); !s.ok()) {
      return s;
    }
  }
  result.chunks_added = static_cast<int64_t>(doc.chunks.size());
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return result;
}
absl::StatusOr<std::optional<DocumentInfo>> SqliteStore::GetDocument(int64_t document_id) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), absl::StrCat("SELECT ", kDocumentColumns,
                              " FROM documents d JOIN collections k ON k.id = d.collection_id WHERE d.id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, document_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<DocumentInfo>();
  return std::optional<DocumentInfo>(ReadDocument(*st));
}

absl::StatusOr<DocumentInfo> SqliteStore::DeleteDocument(int64_t document_id) {
  if (absl::Status s = CheckWritable("delete document"); !s.ok()) return s;
  absl::MutexLock lock(&write_mu_);
  sqlite3* db = writer_.get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db, /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db, absl::StrCat("SELECT ", kDocumentColumns,
                       " FROM documents d JOIN collections k ON k.id = d.collection_id WHERE d.id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, document_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no document with id ", document_id));
  DocumentInfo info = ReadDocument(*st);
  st->Reset();
  if (absl::Status s = DeleteDocumentRows(db, document_id); !s.ok()) return s;
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return info;
}

absl::StatusOr<int64_t> SqliteStore::DeleteBySource(std::string_view collection, std::string_view source) {
  if (absl::Status s = CheckWritable("delete by source"); !s.ok()) return s;
  absl::MutexLock lock(&write_mu_);
  sqlite3* db = writer_.get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db, /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db, collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<Statement> st =
      Statement::Prepare(db, "SELECT id FROM documents WHERE collection_id = ? AND source = ? ORDER BY id");
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id).Bind(2, source);
  std::vector<int64_t> ids;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids.push_back(st->Int(0));
  }
  st->Reset();
  for (int64_t id : ids) {
    if (absl::Status s = DeleteDocumentRows(db, id); !s.ok()) return s;
  }
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return static_cast<int64_t>(ids.size());
}

absl::Status SqliteStore::PruneChanges(std::string_view collection, int64_t through_change) {
  if (absl::Status s = CheckWritable("prune changes"); !s.ok()) return s;
  absl::MutexLock lock(&write_mu_);
  sqlite3* db = writer_.get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db, /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db, collection);
  if (!coll.ok()) return coll.status();
  // Never past the newest change: a later change must stay readable.
  absl::StatusOr<int64_t> last = LastChangeOf(db, coll->id);
  if (!last.ok()) return last.status();
  through_change = std::min(through_change, *last);
  absl::StatusOr<Statement> mark = Statement::Prepare(
      db, "UPDATE collections SET changes_pruned_through = ?1 WHERE id = ?2 AND changes_pruned_through < ?1");
  if (!mark.ok()) return mark.status();
  if (absl::Status s = mark->Bind(1, through_change).Bind(2, coll->id).Run(); !s.ok()) return s;
  absl::StatusOr<Statement> del = Statement::Prepare(db, "DELETE FROM changes WHERE collection_id = ? AND seq <= ?");
  if (!del.ok()) return del.status();
  if (absl::Status s = del->Bind(1, coll->id).Bind(2, through_change).Run(); !s.ok()) return s;
  return txn->Commit();
}

absl::StatusOr<std::vector<DocumentInfo>> SqliteStore::ListDocuments(std::string_view collection,
                                                                    const ListDocumentsOptions& options) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), absl::StrCat("SELECT ", kDocumentColumns,
                              " FROM documents d JOIN collections k ON k.id = d.collection_id"
                              " WHERE d.collection_id = ?1 AND (?2 = '' OR d.source = ?2)"
                              " AND (?5 = '' OR substr(d.source, 1, length(?5)) = ?5)"
                              " ORDER BY d.id LIMIT ?3 OFFSET ?4"));
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id).Bind(2, options.source).Bind(3, std::max<int64_t>(options.limit, 0));
  st->Bind(4, std::max<int64_t>(options.offset, 0)).Bind(5, options.source_prefix);
  std::vector<DocumentInfo> out;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadDocument(*st));
  }
  return out;
}

}  // namespace tinyrag
