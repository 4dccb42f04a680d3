#include "index/sqlite_store_schema.h"

#include "absl/strings/str_cat.h"
#include "index/sqlite_store_db.h"

namespace tinyrag::sqlite {
namespace {

// Version 1. Notes on choices:
// - AUTOINCREMENT keeps document and chunk ids from ever being reused, so a
//   chunk id is a stable FAISS id and a stale index never confuses an old
//   chunk with a new one.
// - chunks.collection_id is denormalized so the change-log triggers and
//   collection filters need no join (and still work while a cascade deletes
//   the document row).
// - The FTS5 table is external-content over chunks (the text is stored once);
//   triggers keep it and the change log in step with chunks inside the
//   writing transaction.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE collections (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  encoder_name  TEXT NOT NULL,
  encoder_dim   INTEGER NOT NULL CHECK (encoder_dim > 0),
  encoder_hash  TEXT NOT NULL,
  created_ms    INTEGER NOT NULL
);
CREATE TABLE documents (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  external_id   TEXT NOT NULL,
  source        TEXT NOT NULL,
  title         TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL,
  UNIQUE (collection_id, external_id)
);
CREATE INDEX documents_by_source ON documents(collection_id, source);
CREATE TABLE chunks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  text          TEXT NOT NULL,
  token_count   INTEGER NOT NULL,
  heading_path  TEXT NOT NULL DEFAULT '',
  UNIQUE (document_id, position)
);
CREATE INDEX chunks_by_collection ON chunks(collection_id, id);
CREATE TABLE embeddings (
  chunk_id      INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  vector        BLOB NOT NULL  -- float32, little-endian, the collection's dimension
);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
-- op: 1 = chunk added, 2 = chunk removed. No foreign keys: the log outlives
-- the rows it talks about.
CREATE TABLE changes (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  collection_id INTEGER NOT NULL,
  chunk_id      INTEGER NOT NULL,
  op            INTEGER NOT NULL CHECK (op IN (1, 2))
);
CREATE INDEX changes_by_collection ON changes(collection_id, seq);
CREATE TRIGGER chunks_added AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
  INSERT INTO changes(collection_id, chunk_id, op) VALUES (new.collection_id, new.id, 1);
END;
CREATE TRIGGER chunks_removed AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO changes(collection_id, chunk_id, op) VALUES (old.collection_id, old.id, 2);
END;
CREATE TRIGGER chunks_text_immutable BEFORE UPDATE OF text ON chunks BEGIN
  SELECT RAISE(ABORT, 'chunk text is immutable: replace the document');
END;
)sql";

// Version 2: the change log can be pruned; a reader asking for changes from
// before the pruning point must rebuild instead of catching up.
constexpr char kSchemaV2[] = R"sql(
ALTER TABLE collections ADD COLUMN changes_pruned_through INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr Migration kMigrations[] = {
    {"collections, documents, chunks, embeddings, FTS5 over chunk text, change log", kSchemaV1},
    {"change log pruning point per collection", kSchemaV2},
};

absl::StatusOr<int64_t> UserVersion(sqlite3* db) {
  absl::StatusOr<Statement> st = Statement::Prepare(db, "PRAGMA user_version");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  return *row ? st->Int(0) : 0;
}

}  // namespace

std::span<const Migration> StoreMigrations() { return kMigrations; }

absl::StatusOr<int64_t> SchemaVersion(sqlite3* db) { return UserVersion(db); }

absl::Status Migrate(sqlite3* db, const std::string& path, std::span<const Migration> migrations) {
  const int64_t known = static_cast<int64_t>(migrations.size());
  for (;;) {
    // Read the version inside the write transaction: two processes cannot
    // both own a data dir, but the check costs nothing.
    absl::StatusOr<Transaction> txn = Transaction::Begin(db, /*immediate=*/true);
    if (!txn.ok()) return txn.status();
    absl::StatusOr<int64_t> version = UserVersion(db);
    if (!version.ok()) return version.status();
    if (*version > known) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " has schema version ", *version, " but this build of tinyrag knows versions up to ", known,
          ": use a newer tinyrag (the file was not modified)"));
    }
    if (*version < 0) return absl::FailedPreconditionError(absl::StrCat(path, " has invalid schema version ", *version));
    if (*version == known) return txn->Commit();
    const Migration& m = migrations[static_cast<size_t>(*version)];
    if (absl::Status s = Exec(db, m.sql); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(path, ": migration to schema version ", *version + 1, " (",
                                                 m.description, ") failed: ", s.message()));
    }
    if (absl::Status s = Exec(db, absl::StrCat("PRAGMA user_version = ", *version + 1).c_str()); !s.ok()) return s;
    if (absl::Status s = txn->Commit(); !s.ok()) return s;
  }
}

}  // namespace tinyrag::sqlite
