// The SQLite store's schema and its migrations.
//
// The schema version lives in SQLite's `PRAGMA user_version`. Migration i
// takes the database from version i to i + 1; opening applies the missing
// ones, each in its own transaction together with the version bump, so a
// failure or crash mid-migration leaves the previous version intact. A
// database newer than this build knows is refused, never modified.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tinyrag::sqlite {

struct Migration {
  const char* description;
  const char* sql;  // one or more statements
};

// This build's migrations, oldest first; their count is the current version.
std::span<const Migration> StoreMigrations();

// The schema version of `db` (0 for a new, empty database); read without a
// write lock. Internal on SQLite errors.
absl::StatusOr<int64_t> SchemaVersion(sqlite3* db);

// Brings `db` (named `path` in messages) to version migrations.size().
// FailedPrecondition when its version is newer; the error of the failing
// statement (the database left at the last good version) otherwise.
absl::Status Migrate(sqlite3* db, const std::string& path, std::span<const Migration> migrations);

}  // namespace tinyrag::sqlite
