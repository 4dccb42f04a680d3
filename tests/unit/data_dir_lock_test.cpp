#include "index/data_dir_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
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
    EXPECT_EQ(second.status().message(),
              absl::StrCat("data dir ", dir.string(), " is owned by a running server (pid ", getpid(), ")"));
    EXPECT_TRUE(DataDirLock::OwnedByServer(second.status()));
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
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("data dir ", dir.string(), " is owned by a running server (pid ", child, ")"));
  // A reader is refused too, naming the server.
  auto reader = DataDirLock::Acquire(dir.string(), DataDirAccess::kRead);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(DataDirLock::OwnedByServer(reader.status()));
  EXPECT_EQ(reader.status().message(),
            absl::StrCat("data dir ", dir.string(), " is owned by a running server (pid ", child, ")"));
  // SIGKILL: no destructor runs, the kernel still drops the flock.
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(DataDirLock::Acquire(dir.string()).ok());
  close(ready[0]);
  close(ready[1]);
  fs::remove_all(dir);
}

TEST(DataDirLock, WritersExcludeEachOtherReadersOnlyExcludeAServer) {
  fs::path dir = FreshDir("modes");
  const std::string d = dir.string();
  {
    auto writer = DataDirLock::Acquire(d, DataDirAccess::kWrite);
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ(writer->access(), DataDirAccess::kWrite);
    auto reader1 = DataDirLock::Acquire(d, DataDirAccess::kRead);
    auto reader2 = DataDirLock::Acquire(d, DataDirAccess::kRead);
    EXPECT_TRUE(reader1.ok()) << reader1.status();
    EXPECT_TRUE(reader2.ok()) << reader2.status();
    const std::string writing = absl::StrCat("data dir ", d, " is in use by pid ", getpid(), ", which is writing it");
    auto writer2 = DataDirLock::Acquire(d, DataDirAccess::kWrite);
    ASSERT_FALSE(writer2.ok());
    EXPECT_EQ(writer2.status().message(), writing);
    EXPECT_FALSE(DataDirLock::OwnedByServer(writer2.status()));
    auto server = DataDirLock::Acquire(d, DataDirAccess::kExclusive);
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().message(), writing);
  }
  {
    // Readers alone still keep a server out, and its failed attempt keeps
    // nothing: a writer gets in right after.
    auto reader = DataDirLock::Acquire(d, DataDirAccess::kRead);
    ASSERT_TRUE(reader.ok());
    auto server = DataDirLock::Acquire(d, DataDirAccess::kExclusive);
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(server.status().message()), ::testing::HasSubstr("is being read by another process"));
    EXPECT_TRUE(DataDirLock::Acquire(d, DataDirAccess::kWrite).ok());
  }
  {
    auto server = DataDirLock::Acquire(d, DataDirAccess::kExclusive);
    ASSERT_TRUE(server.ok()) << server.status();
    const std::string owned = absl::StrCat("data dir ", d, " is owned by a running server (pid ", getpid(), ")");
    for (DataDirAccess access : {DataDirAccess::kRead, DataDirAccess::kWrite, DataDirAccess::kExclusive}) {
      auto other = DataDirLock::Acquire(d, access);
      ASSERT_FALSE(other.ok()) << DataDirAccessName(access);
      EXPECT_EQ(other.status().message(), owned) << DataDirAccessName(access);
      EXPECT_TRUE(DataDirLock::OwnedByServer(other.status())) << DataDirAccessName(access);
    }
  }
  EXPECT_FALSE(DataDirLock::OwnedByServer(absl::FailedPreconditionError("data dir x is owned by a running server")));
  fs::remove_all(dir);
}

TEST(DataDirLock, ReaderNeedsAnExistingDirAndCreatesNone) {
  fs::path dir = FreshDir("absent");
  auto reader = DataDirLock::Acquire(dir.string(), DataDirAccess::kRead);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader.status().message(), absl::StrCat("data dir ", dir.string(), " does not exist"));
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace tinyrag
