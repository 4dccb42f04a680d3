#include "index/sqlite_store_db.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tinyrag::sqlite {

absl::Status Error(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = absl::StrCat(std::string(what), ": ", msg);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return absl::UnavailableError(text);
  return absl::InternalError(text);
}

absl::StatusOr<Connection> Open(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection conn(raw);  // sqlite3_open_v2 allocates a handle even on failure
  if (rc != SQLITE_OK) return Error(raw, rc, absl::StrCat("cannot open ", path));
  // The writer holds the write lock for one document at a time; readers never
  // wait under WAL except for checkpoints and recovery.
  sqlite3_busy_timeout(raw, 10000);
  // WAL: readers and one writer at once. synchronous=NORMAL: a killed process
  // loses no committed transaction; a power cut may lose the last few but
  // never corrupts (the vector index then rebuilds, see vector_index.h).
  // These are also the first reads of the file, where a non-database shows.
  absl::Status s = Exec(raw, read_only ? "PRAGMA foreign_keys = ON"
                                       : "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
                                         "PRAGMA synchronous = NORMAL");
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("cannot open ", path, ": ", s.message()));
  return conn;
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string what = absl::StrCat("sqlite: ", err != nullptr ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return absl::UnavailableError(what);
  return absl::InternalError(what);
}

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, absl::StrCat("sqlite: preparing ", std::string(sql)));
  return Statement(db, stmt);
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Statement& Statement::Bind(int i, double v) {
  sqlite3_bind_double(stmt_.get(), i, v);
  return *this;
}

Statement& Statement::Bind(int i, std::string_view text) {
  sqlite3_bind_text64(stmt_.get(), i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::BindBlob(int i, std::span<const float> values) {
  sqlite3_bind_blob64(stmt_.get(), i, values.data(), values.size_bytes(), SQLITE_TRANSIENT);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(db_, rc, absl::StrCat("sqlite: ", sqlite3_sql(stmt_.get())));
}

absl::Status Statement::Run() {
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  Reset();
  return absl::OkStatus();
}

void Statement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  return p != nullptr ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col))) : std::string();
}

bool Statement::AppendFloats(int col, size_t n, std::vector<float>* out) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const size_t bytes = static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col));
  if (bytes != n * sizeof(float) || (n > 0 && p == nullptr)) return false;
  const size_t old = out->size();
  out->resize(old + n);
  std::memcpy(out->data() + old, p, bytes);
  return true;
}

ReaderPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

absl::StatusOr<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      Connection conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  absl::StatusOr<Connection> conn = Open(path_, /*read_only=*/true);
  if (!conn.ok()) return conn.status();
  return Lease(this, std::move(*conn));
}

void ReaderPool::Return(Connection conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

absl::StatusOr<Transaction> Transaction::Begin(sqlite3* db, bool immediate) {
  if (absl::Status s = Exec(db, immediate ? "BEGIN IMMEDIATE" : "BEGIN"); !s.ok()) return s;
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) Exec(db_, "ROLLBACK").IgnoreError();
}

absl::Status Transaction::Commit() {
  absl::Status s = Exec(db_, "COMMIT");
  // A failed COMMIT leaves the transaction open; the destructor rolls it back.
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace tinyrag::sqlite
