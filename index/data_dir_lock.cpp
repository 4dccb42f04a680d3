#include "index/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;

// Marks a conflict with a kExclusive holder (see OwnedByServer).
constexpr char kOwnerPayload[] = "type.tinyrag.dev/data_dir_lock.owner";
constexpr char kExclusiveRole[] = "exclusive";

struct Holder {
  std::string pid;   // "" when unknown
  std::string role;  // "" when unknown
};

// What the current holder wrote ("PID ROLE"), or empty fields when it cannot
// be read (the holder may be between taking the lock and writing).
Holder ReadHolder(int fd) {
  char buf[64] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return {};
  std::vector<std::string> parts = absl::StrSplit(
      absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))), ' ', absl::SkipEmpty());
  Holder h;
  int64_t pid = 0;
  if (!parts.empty() && absl::SimpleAtoi(parts[0], &pid)) h.pid = absl::StrCat(pid);
  if (parts.size() > 1) h.role = parts[1];
  return h;
}

absl::Status ServerOwns(const std::string& dir, const Holder& h) {
  absl::Status s = absl::FailedPreconditionError(
      h.pid.empty() ? absl::StrCat("data dir ", dir, " is owned by a running server")
                    : absl::StrCat("data dir ", dir, " is owned by a running server (pid ", h.pid, ")"));
  s.SetPayload(kOwnerPayload, absl::Cord(kExclusiveRole));
  return s;
}

// The conflict on LOCK, whose holder is a writer or a server.
absl::Status LockHeld(const std::string& dir, int fd) {
  const Holder h = ReadHolder(fd);
  if (h.role == kExclusiveRole) return ServerOwns(dir, h);
  if (h.pid.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("data dir ", dir, " is in use by another process"));
  }
  return absl::FailedPreconditionError(absl::StrCat("data dir ", dir, " is in use by pid ", h.pid,
                                                    h.role == "write" ? ", which is writing it" : ""));
}

// Opens DIR/`name` for locking (created when missing).
absl::StatusOr<int> OpenLockFile(const std::string& dir, const char* name) {
  const std::string path = (fs::path(dir) / name).string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  return fd;
}

// flock without waiting: true when taken, false when someone else holds a
// conflicting lock; Internal for other errors.
absl::StatusOr<bool> TryLock(int fd, int operation, const std::string& dir, const char* name) {
  if (flock(fd, operation | LOCK_NB) == 0) return true;
  if (errno == EWOULDBLOCK) return false;
  return absl::InternalError(
      absl::StrCat("cannot lock ", (fs::path(dir) / name).string(), ": ", std::strerror(errno)));
}

// Records "PID ROLE" in a file this process holds exclusively. Informational
// only: the flock is what excludes, the text names the holder.
absl::Status WriteHolder(int fd, const std::string& dir, const char* name, const char* role) {
  const std::string text = absl::StrCat(getpid(), " ", role, "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return absl::InternalError(
        absl::StrCat("cannot write ", (fs::path(dir) / name).string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// Closes its descriptors unless released (the success path keeps them).
struct FdGuard {
  int fds[2] = {-1, -1};
  ~FdGuard() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

}  // namespace

const char* DataDirAccessName(DataDirAccess access) {
  switch (access) {
    case DataDirAccess::kExclusive: return "exclusive";
    case DataDirAccess::kWrite: return "write";
    case DataDirAccess::kRead: return "read";
  }
  return "unknown";
}

absl::StatusOr<DataDirLock> DataDirLock::Acquire(const std::string& dir) {
  return Acquire(dir, DataDirAccess::kExclusive);
}

absl::StatusOr<DataDirLock> DataDirLock::Acquire(const std::string& dir, DataDirAccess access) {
  std::error_code ec;
  if (access == DataDirAccess::kRead) {
    if (!fs::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat("data dir ", dir, " does not exist"));
  } else {
    fs::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create data dir ", dir, ": ", ec.message()));
  }
  FdGuard guard;
  int& lock_fd = guard.fds[0];
  int& shared_fd = guard.fds[1];

  // Writers and servers: LOCK first, so two of them name each other.
  if (access != DataDirAccess::kRead) {
    absl::StatusOr<int> fd = OpenLockFile(dir, kLockFile);
    if (!fd.ok()) return fd.status();
    lock_fd = *fd;
    absl::StatusOr<bool> taken = TryLock(lock_fd, LOCK_EX, dir, kLockFile);
    if (!taken.ok()) return taken.status();
    if (!*taken) return LockHeld(dir, lock_fd);
  }
  // Servers and readers: LOCK.shared, which only a server takes exclusively.
  if (access != DataDirAccess::kWrite) {
    absl::StatusOr<int> fd = OpenLockFile(dir, kSharedLockFile);
    if (!fd.ok()) return fd.status();
    shared_fd = *fd;
    const bool exclusive = access == DataDirAccess::kExclusive;
    absl::StatusOr<bool> taken = TryLock(shared_fd, exclusive ? LOCK_EX : LOCK_SH, dir, kSharedLockFile);
    if (!taken.ok()) return taken.status();
    if (!*taken) {
      if (exclusive) {
        // Holding LOCK, only readers can hold LOCK.shared.
        return absl::FailedPreconditionError(absl::StrCat(
            "data dir ", dir, " is being read by another process (a tinyrag search or docs list); retry when it ends"));
      }
      return ServerOwns(dir, ReadHolder(shared_fd));
    }
    if (exclusive) {
      if (absl::Status s = WriteHolder(shared_fd, dir, kSharedLockFile, kExclusiveRole); !s.ok()) return s;
    }
  }
  if (lock_fd >= 0) {
    if (absl::Status s = WriteHolder(lock_fd, dir, kLockFile, DataDirAccessName(access)); !s.ok()) return s;
  }
  DataDirLock lock(dir, access, std::exchange(lock_fd, -1), std::exchange(shared_fd, -1));
  return lock;
}

bool DataDirLock::OwnedByServer(const absl::Status& status) {
  return status.GetPayload(kOwnerPayload).has_value();
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : dir_(std::move(other.dir_)),
      access_(other.access_),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      shared_fd_(std::exchange(other.shared_fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    Release();
    dir_ = std::move(other.dir_);
    access_ = other.access_;
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    shared_fd_ = std::exchange(other.shared_fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() { Release(); }

void DataDirLock::Release() {
  // Closing the only descriptor of an open file releases its flock. The files
  // stay: unlinking one would let a newcomer lock a fresh inode while a
  // latecomer still holds the old one.
  if (lock_fd_ >= 0) close(lock_fd_);
  if (shared_fd_ >= 0) close(shared_fd_);
  lock_fd_ = -1;
  shared_fd_ = -1;
}

}  // namespace tinyrag
