// Who may use a data directory at the same time.
//
// A data dir holds the SQLite store and the FAISS index files. SQLite (WAL)
// lets many processes read while one writes, but each process keeps its own
// vector index in memory and the writer saves it to disk, so:
//  - kExclusive: no other process at all. A SERVER takes this: it keeps its
//    indexes in memory for its whole life and saves them itself, so CLI
//    processes must go through it. The server calls
//        SqliteStore::Open(data_dir)            (kExclusive is the default)
//    or  SqliteStore::Open(data_dir, DataDirAccess::kExclusive),
//    and keeps the store open while it runs; the lock dies with the process.
//  - kWrite: one writer (`tinyrag ingest`, `docs delete`): no server and no
//    other writer, but readers are welcome. The writer is the only process
//    that saves vector index files and prunes the change log.
//  - kRead: a reader (`tinyrag search`, `docs list`): alongside a writer and
//    other readers, never a server. A reader reads SQLite snapshots and builds
//    its vector index in memory from the saved file plus the change log (or
//    from the stored embeddings when the writer pruned the log meanwhile); it
//    never writes the store or the index files (SqliteStore refuses writes).
//
// Mechanism (flock, so the kernel drops every lock when its holder dies, even
// by SIGKILL, and no stale lock is ever left behind), on two files in DIR:
//    LOCK         kExclusive and kWrite take it exclusively; holds "PID ROLE"
//    LOCK.shared  kExclusive takes it exclusively (and writes "PID" in it),
//                 kRead shares it
// so a server excludes everyone, writers exclude each other, and readers only
// exclude a server. Locks are never waited for: a conflict is an error at once.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tinyrag {

enum class DataDirAccess {
  kExclusive,  // a server: no other process (see above)
  kWrite,      // a CLI writer: no server, no other writer; readers allowed
  kRead,       // a CLI reader: no server; writers and readers allowed
};

// "exclusive", "write" or "read".
const char* DataDirAccessName(DataDirAccess access);

class DataDirLock {
 public:
  static constexpr char kLockFile[] = "LOCK";
  static constexpr char kSharedLockFile[] = "LOCK.shared";

  // Takes the lock for `access` without waiting. kExclusive and kWrite create
  // `dir` (and parents) when missing; kRead gives NotFound "data dir DIR does
  // not exist" instead (a reader has nothing to read there). Conflicts are
  // FailedPrecondition:
  //  - "data dir DIR is owned by a running server (pid N)" when a kExclusive
  //    holder exists (see OwnedByServer);
  //  - "data dir DIR is in use by pid N, which is writing it" when a writer
  //    blocks a writer or a server;
  //  - "data dir DIR is being read by another process" when readers block a
  //    server.
  // Another DataDirLock of this process conflicts exactly like another
  // process's. Internal for filesystem errors. The returned object owns the
  // lock(s) until it is destroyed. Thread-compatible.
  static absl::StatusOr<DataDirLock> Acquire(const std::string& dir, DataDirAccess access);
  // Acquire(dir, DataDirAccess::kExclusive), as before lock modes existed.
  static absl::StatusOr<DataDirLock> Acquire(const std::string& dir);

  // Whether `status` (an Acquire error, or one passed up unchanged from
  // SqliteStore::Open) says a server (a kExclusive holder) owns the dir, so a
  // command line tool can tell its user to go through the server.
  static bool OwnedByServer(const absl::Status& status);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock(s)

  const std::string& dir() const { return dir_; }
  DataDirAccess access() const { return access_; }

 private:
  DataDirLock(std::string dir, DataDirAccess access, int lock_fd, int shared_fd)
      : dir_(std::move(dir)), access_(access), lock_fd_(lock_fd), shared_fd_(shared_fd) {}
  void Release();

  std::string dir_;
  DataDirAccess access_ = DataDirAccess::kExclusive;
  int lock_fd_ = -1;    // LOCK, held exclusively (kExclusive, kWrite)
  int shared_fd_ = -1;  // LOCK.shared (kExclusive: exclusively; kRead: shared)
};

}  // namespace tinyrag
