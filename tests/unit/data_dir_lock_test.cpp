#include "index/data_dir_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / absl::StrCat("tinyrag_lock_", name, "_", getpid());
  fs::remove_all(dir);
  return dir;
}

TEST(DataDirLock, CreatesDirAndRecordsPid) {
  fs::path dir = FreshDir("pid");
  auto lock = DataDirLock::Acquire((dir / "nested").string());
  ASSERT_TRUE(lock.ok()) << lock.status();
  std::ifstream in(dir / "nested" / "LOCK");
  std::string pid;
  in >> pid;
  EXPECT_EQ(pid, std::to_string(getpid()));
  fs::remove_all(dir);
}

TEST(DataDirLock, SecondOwnerRefusedUntilReleased) {
  fs::path dir = FreshDir("twice");
  {
    auto first = DataDirLock::Acquire(dir.string());
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = DataDirLock::Acquire(dir.string());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(second.status().message(), absl::StrCat("data dir ", dir.string(), " is in use by pid ", getpid()));
    // A moved-from lock releases nothing; the moved-to one still excludes.
    DataDirLock moved = std::move(*first);
    EXPECT_FALSE(DataDirLock::Acquire(dir.string()).ok());
  }
  EXPECT_TRUE(DataDirLock::Acquire(dir.string()).ok());
  fs::remove_all(dir);
}

TEST(DataDirLock, OtherProcessSeesOwnerAndLockDiesWithIt) {
  fs::path dir = FreshDir("proc");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = DataDirLock::Acquire(dir.string());
    char c = lock.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();  // hold the lock until killed
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto refused = DataDirLock::Acquire(dir.string());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), absl::StrCat("data dir ", dir.string(), " is in use by pid ", child));
  // SIGKILL: no destructor runs, the kernel still drops the flock.
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(DataDirLock::Acquire(dir.string()).ok());
  close(ready[0]);
  close(ready[1]);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tinyrag
