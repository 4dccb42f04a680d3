#include "index/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

// The pid the current owner wrote, or "" when it cannot be read (the owner may
// be between taking the lock and writing its pid).
std::string ReadOwnerPid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  int64_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))), &pid)) return "";
  return absl::StrCat(pid);
}

}  // namespace

absl::StatusOr<DataDirLock> DataDirLock::Acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create data dir ", dir, ": ", ec.message()));
  const std::string path = (std::filesystem::path(dir) / "LOCK").string();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string owner = err == EWOULDBLOCK ? ReadOwnerPid(fd) : "";
    close(fd);
    if (err != EWOULDBLOCK) return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    return absl::FailedPreconditionError(
        owner.empty() ? absl::StrCat("data dir ", dir, " is in use by another process")
                      : absl::StrCat("data dir ", dir, " is in use by pid ", owner));
  }
  // Informational only: the flock is what excludes, the pid names the owner.
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(err)));
  }
  return DataDirLock(dir, fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : dir_(std::move(other.dir_)), fd_(std::exchange(other.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    Release();
    dir_ = std::move(other.dir_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() { Release(); }

void DataDirLock::Release() {
  // Closing the only descriptor of the open file releases the flock. The file
  // stays: unlinking it would let a newcomer lock a fresh inode while a
  // latecomer still holds the old one.
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace tinyrag
