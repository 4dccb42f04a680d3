// DocumentStore on SQLite: one database file in the data dir, WAL journal,
// foreign keys on, schema versioned by migrations (sqlite_store_schema.h).
//
// Concurrency: one writer connection behind a mutex (SQLite has one writer
// anyway) and a pool of read-only connections, one per concurrent reader, so
// searches read a consistent snapshot while ingestion writes.
//
// Crash safety: every write method is one transaction. A process killed at
// any point leaves each document fully old or fully new, and the change log
// exactly matching the chunks present.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "index/data_dir_lock.h"
#include "index/sqlite_store_db.h"
#include "index/store.h"

namespace tinyrag {

class SqliteStore final : public DocumentStore {
 public:
  static constexpr char kDatabaseFile[] = "store.sqlite";

  // Opens `data_dir` exclusively: Open(data_dir, DataDirAccess::kExclusive).
  // This is the call a server makes (it owns its data dir while it runs).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir);

  // Takes the data dir lock for `access` (see data_dir_lock.h: which
  // processes may share a dir, and the FailedPrecondition messages of a
  // conflict, passed up unchanged so DataDirLock::OwnedByServer works on
  // them), then:
  //  - kExclusive, kWrite: creates the dir and DIR/store.sqlite when missing
  //    and migrates the schema to this build's version;
  //  - kRead: NotFound when the dir or its store.sqlite does not exist
  //    (nothing is created); migrates only a database older than this build
  //    (the same transactional migration a writer would run). Every write
  //    method then returns FailedPrecondition "... opened for reading": a
  //    reader must not prune the change log a writer's index relies on.
  // FailedPrecondition when the database has a newer schema than this build
  // knows; Internal for a file that is not a database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir, DataDirAccess access);

  ~SqliteStore() override = default;

  const std::string& data_dir() const { return lock_.dir(); }
  // How this store holds its data dir; kRead stores refuse writes.
  DataDirAccess access() const { return lock_.access(); }
  const std::string& database_path() const { return db_path_; }

  absl::StatusOr<CollectionInfo> EnsureCollection(std::string_view name, const EncoderIdentity& encoder) override;
  absl::StatusOr<CollectionInfo> GetCollection(std::string_view name) override;
  absl::StatusOr<std::vector<CollectionInfo>> ListCollections() override;
  absl::StatusOr<std::optional<DocumentInfo>> FindDocument(std::string_view collection,
                                                           std::string_view external_id) override;
  absl::StatusOr<std::optional<DocumentInfo>> GetDocument(int64_t document_id) override;
  absl::StatusOr<UpsertResult> UpsertDocument(std::string_view collection, const DocumentInput& doc) override;
  absl::StatusOr<DocumentInfo> DeleteDocument(int64_t document_id) override;
  absl::StatusOr<int64_t> DeleteBySource(std::string_view collection, std::string_view source) override;
  absl::StatusOr<std::vector<DocumentInfo>> ListDocuments(std::string_view collection,
                                                          const ListDocumentsOptions& options = {}) override;
  absl::StatusOr<std::vector<ChunkRecord>> GetChunks(std::span<const int64_t> ids,
                                                     const SearchFilter* filter = nullptr) override;
  absl::StatusOr<int64_t> ForEachEmbedding(
      std::string_view collection, int64_t batch_size,
      const std::function<absl::Status(std::span<const int64_t>, std::span<const float>)>& fn) override;
  absl::StatusOr<ChangeBatch> ReadChanges(std::string_view collection, int64_t after_change,
                                          int64_t max_changes) override;
  absl::Status PruneChanges(std::string_view collection, int64_t through_change) override;
  absl::StatusOr<int64_t> LastChange(std::string_view collection) override;
  absl::StatusOr<int64_t> CountChunks(std::string_view collection) override;
  absl::StatusOr<std::vector<LexicalHit>> LexicalSearch(const SearchFilter& filter, std::string_view question,
                                                        int k) override;

 private:
  SqliteStore(DataDirLock lock, std::string db_path, sqlite::Connection writer)
      : lock_(std::move(lock)), db_path_(std::move(db_path)), writer_(std::move(writer)), readers_(db_path_) {}

  // The collection named `name` as seen by `db`; NotFound when absent.
  static absl::StatusOr<CollectionInfo> LoadCollection(sqlite3* db, std::string_view name);
  // FailedPrecondition naming `what` when the store was opened for reading.
  absl::Status CheckWritable(std::string_view what) const;
  // The collection's newest change number as seen by `db` (a pruned log
  // remembers how far it went).
  static absl::StatusOr<int64_t> LastChangeOf(sqlite3* db, int64_t collection_id);

  DataDirLock lock_;
  const std::string db_path_;
  absl::Mutex write_mu_;
  sqlite::Connection writer_ ABSL_GUARDED_BY(write_mu_);
  sqlite::ReaderPool readers_;
};

}  // namespace tinyrag
