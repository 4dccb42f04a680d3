// Small RAII layer over the SQLite C API used by SqliteStore: owned
// connections, prepared statements with typed binds and columns, errors as
// absl statuses, and a pool of read-only connections.
//
// Thread safety: a Connection or Statement is used by one thread at a time
// (connections are opened with SQLITE_OPEN_NOMUTEX); the pool itself is
// thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tinyrag::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

// Error for result code `rc` on `db`: "<what>: <sqlite message>". SQLITE_BUSY
// becomes Unavailable (retryable), everything else Internal.
absl::Status Error(sqlite3* db, int rc, std::string_view what);

// Opens `path` and applies the per-connection settings: foreign keys on, busy
// timeout, and (read-write only) WAL journal. Internal on failure.
absl::StatusOr<Connection> Open(const std::string& path, bool read_only);

// Runs one or more statements without results.
absl::Status Exec(sqlite3* db, const char* sql);

class Statement {
 public:
  // Prepares `sql` on `db` (which must outlive the statement).
  static absl::StatusOr<Statement> Prepare(sqlite3* db, std::string_view sql);

  Statement(Statement&&) = default;
  Statement& operator=(Statement&&) = default;

  // Binds are 1-based like SQLite's.
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, double v);
  Statement& Bind(int i, std::string_view text);
  Statement& BindBlob(int i, std::span<const float> values);

  // Steps once: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  absl::Status Run();
  // Clears the bindings and rewinds, for the next execution.
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  double Double(int col) const { return sqlite3_column_double(stmt_.get(), col); }
  std::string Text(int col) const;
  // Appends the column's float32 values to `out` when it holds exactly `n`
  // of them; false (nothing appended) otherwise. Copies, because SQLite's
  // blob pointer may point into a page at any alignment.
  bool AppendFloats(int col, size_t n, std::vector<float>* out) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

// Read-only connections to one database, reused across calls. Under WAL each
// reader sees a snapshot and never blocks the writer, so concurrent searches
// run while ingestion writes.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  // A connection borrowed from the pool, returned to it on destruction.
  class Lease {
   public:
    Lease(ReaderPool* pool, Connection conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    sqlite3* get() const { return conn_.get(); }

   private:
    ReaderPool* pool_;
    Connection conn_;
  };

  // An idle connection, or a new one when all are busy. Internal when a new
  // connection cannot be opened.
  absl::StatusOr<Lease> Acquire();

 private:
  void Return(Connection conn);

  const std::string path_;
  absl::Mutex mu_;
  std::vector<Connection> idle_ ABSL_GUARDED_BY(mu_);
};

// BEGIN on construction, ROLLBACK on destruction unless Commit() succeeded:
// every early error return leaves the database untouched.
class Transaction {
 public:
  // `immediate`: take the write lock now (writers), else a deferred read snapshot.
  static absl::StatusOr<Transaction> Begin(sqlite3* db, bool immediate);
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace tinyrag::sqlite
