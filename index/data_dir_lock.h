// Exclusive ownership of a data directory by one process.
//
// A data dir holds the SQLite store and the FAISS index files; two processes
// writing it at once (a server and an `ingest` run, say) would each keep a
// vector index that misses the other's changes. The owner holds an flock on
// DIR/LOCK for its lifetime and records its pid there, so a second process gets
// a clear error naming the owner. The kernel drops the lock when the owner dies
// (even by SIGKILL), so a crash never leaves a stale lock behind.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tinyrag {

class DataDirLock {
 public:
  // Creates `dir` (and parents) when missing and takes the lock without
  // waiting. FailedPrecondition "data dir DIR is in use by pid N" when another
  // open lock exists (another process, or another DataDirLock in this one);
  // Internal for filesystem errors. The returned object owns the lock.
  static absl::StatusOr<DataDirLock> Acquire(const std::string& dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock

  const std::string& dir() const { return dir_; }

 private:
  DataDirLock(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  void Release();

  std::string dir_;
  int fd_ = -1;
};

}  // namespace tinyrag
