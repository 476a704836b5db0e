#include "state/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "state/state_test_util.h"
#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

using testing_state::CountTempFiles;
using testing_state::RawEntries;

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(AtomicFileTest, CreatesTheChainPrivate) {
  ScopedTempDir tmp;
  const std::string path = tmp.path() + "/a/b/c";
  auto dir = PrivateDir::Open(path, PrivateDir::Create::kYes);
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  EXPECT_EQ(ModeOf(tmp.path() + "/a"), 0700u);
  EXPECT_EQ(ModeOf(tmp.path() + "/a/b"), 0700u);
  EXPECT_EQ(ModeOf(path), 0700u);
  auto sub = dir->Subdir("d", PrivateDir::Create::kYes);
  ASSERT_TRUE(sub.has_value()) << sub.error().message;
  EXPECT_EQ(ModeOf(path + "/d"), 0700u);
}

TEST(AtomicFileTest, MissingWithoutCreateIsNotFoundAndCreatesNothing) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path() + "/x/y", PrivateDir::Create::kNo);
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(RawEntries(tmp.path()).empty());
}

TEST(AtomicFileTest, WriteReplaceReadLeavesNoTempFiles) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path() + "/s", PrivateDir::Create::kYes);
  ASSERT_TRUE(dir.has_value());
  ASSERT_TRUE(dir->WriteAtomically("f", "first").has_value());
  ASSERT_TRUE(dir->WriteAtomically("f", std::string(100000, 'x')).has_value());
  auto read = dir->ReadFile("f", 1 << 20);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, std::string(100000, 'x'));
  EXPECT_EQ(ModeOf(dir->path() + "/f"), 0600u);
  EXPECT_EQ(RawEntries(dir->path()), std::vector<std::string>{"f"});
}

TEST(AtomicFileTest, ReadMissingIsNullopt) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  auto read = dir->ReadFile("nothing", 10);
  ASSERT_TRUE(read.has_value());
  EXPECT_FALSE(read->has_value());
}

TEST(AtomicFileTest, RefusesTooLargeSymlinkedAndSpecialFiles) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value());
  ASSERT_TRUE(dir->WriteAtomically("big", std::string(200, 'x')).has_value());
  EXPECT_FALSE(dir->ReadFile("big", 100).has_value());
  ASSERT_EQ(symlink("big", (tmp.path() + "/link").c_str()), 0);
  auto link = dir->ReadFile("link", 1000);
  ASSERT_FALSE(link.has_value());
  EXPECT_NE(link.error().message.find("symlink"), std::string::npos);
  // A FIFO must be refused, not block the reader.
  ASSERT_EQ(mkfifo((tmp.path() + "/fifo").c_str(), 0600), 0);
  EXPECT_FALSE(dir->ReadFile("fifo", 1000).has_value());
}

TEST(AtomicFileTest, RefusesNamesThatLeaveTheDirectoryOrLookLikeTempFiles) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value());
  for (const char* name : {"", ".", "..", "../x", "a/b", ".hidden", ".f.tmp-1"}) {
    auto written = dir->WriteAtomically(name, "x");
    ASSERT_FALSE(written.has_value()) << name;
    EXPECT_EQ(written.error().kind, ErrorKind::kInvalidInput) << name;
  }
  EXPECT_FALSE(dir->ReadFile("../x", 10).has_value());
  EXPECT_FALSE(dir->RemoveFile("a/b").has_value());
  EXPECT_TRUE(RawEntries(tmp.path()).empty());
}

TEST(AtomicFileTest, RefusesSymlinkedDirectories) {
  ScopedTempDir tmp;
  ASSERT_TRUE(std::filesystem::create_directory(tmp.path() + "/real"));
  ASSERT_EQ(chmod((tmp.path() + "/real").c_str(), 0700), 0);
  ASSERT_EQ(symlink("real", (tmp.path() + "/link").c_str()), 0);
  for (const std::string& path : {tmp.path() + "/link", tmp.path() + "/link/"}) {
    auto dir = PrivateDir::Open(path, PrivateDir::Create::kYes);
    ASSERT_FALSE(dir.has_value()) << path;
    EXPECT_NE(dir.error().message.find("symlink"), std::string::npos) << dir.error().message;
  }
  auto parent = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(parent.has_value());
  EXPECT_FALSE(parent->Subdir("link", PrivateDir::Create::kYes).has_value());
  // An ancestor may be a symlink (/var/run -> /run).
  EXPECT_TRUE(PrivateDir::Open(tmp.path() + "/link/sub", PrivateDir::Create::kYes).has_value());
}

TEST(AtomicFileTest, RefusesDirectoriesOthersCanWriteOrOwn) {
  ScopedTempDir tmp;
  const std::string path = tmp.path() + "/shared";
  ASSERT_TRUE(std::filesystem::create_directory(path));
  ASSERT_EQ(chmod(path.c_str(), 0777), 0);
  auto writable = PrivateDir::Open(path, PrivateDir::Create::kNo);
  ASSERT_FALSE(writable.has_value());
  EXPECT_NE(writable.error().message.find("writable by group or others"), std::string::npos);
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  EXPECT_TRUE(PrivateDir::Open(path, PrivateDir::Create::kNo).has_value());
  if (geteuid() == 0) {
    ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
    auto foreign = PrivateDir::Open(path, PrivateDir::Create::kNo);
    ASSERT_FALSE(foreign.has_value());
    EXPECT_NE(foreign.error().message.find("not by us"), std::string::npos);
  }
}

TEST(AtomicFileTest, TempFilesAreInvisibleToListingsAndRemovedOnRequest) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value());
  ASSERT_TRUE(dir->WriteAtomically("a", "1").has_value());
  // What a writer killed between create and rename leaves behind.
  std::ofstream(tmp.path() + "/.a.tmp-123-00ff") << "half";
  std::ofstream(tmp.path() + "/.b.tmp-124-00ff");
  auto names = dir->FileNames();
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, std::vector<std::string>{"a"});
  EXPECT_EQ(CountTempFiles(tmp.path()), 2u);
  auto removed = dir->RemoveTempFiles();
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(RawEntries(tmp.path()), std::vector<std::string>{"a"});
}

TEST(AtomicFileTest, RemoveReportsWhetherTheFileExisted) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value());
  ASSERT_TRUE(dir->WriteAtomically("a", "1").has_value());
  auto first = dir->RemoveFile("a");
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(*first);
  auto second = dir->RemoveFile("a");
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(*second);
}

TEST(AtomicFileTest, LockIsExclusiveAndCloseOnExec) {
  ScopedTempDir tmp;
  auto dir = PrivateDir::Open(tmp.path(), PrivateDir::Create::kNo);
  ASSERT_TRUE(dir.has_value());
  const std::string lock_path = tmp.path() + "/x.lock";
  {
    auto lock = DirLock::Acquire(*dir, "x.lock");
    ASSERT_TRUE(lock.has_value()) << lock.error().message;
    EXPECT_EQ(ModeOf(lock_path), 0600u);
    // flock is per open file description: a second open must not get it.
    const int other = open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(other, 0);
    EXPECT_NE(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
    // Close-on-exec, or a spawned QEMU would keep holding the lock.
    bool found = false;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (std::filesystem::read_symlink(entry.path(), ec) != lock_path) continue;
      found = true;
      const int fd = std::stoi(entry.path().filename().string());
      EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    }
    EXPECT_TRUE(found);
  }
  const int again = open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(again, 0);
  EXPECT_EQ(flock(again, LOCK_EX | LOCK_NB), 0);
  close(again);
}

}  // namespace
}  // namespace nvh
