#include "state/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <system_error>

namespace nvh {
namespace {

constexpr std::string_view kTempMarker = ".tmp-";

std::string ErrnoText(int error) {
  return std::generic_category().message(error);
}

std::string Join(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

// A name no one else picks: our pid and 64 random bits. Uniqueness is not
// what protects the file (O_EXCL does), it only avoids retries.
std::string UniqueSuffix() {
  static std::uint64_t counter = 0;
  std::uint64_t random = 0;
  if (getrandom(&random, sizeof random, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof random)) {
    random = ++counter;
  }
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%ld-%016llx", static_cast<long>(getpid()),
                static_cast<unsigned long long>(random));
  return buffer;
}

Result<void> CheckPrivate(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return std::unexpected(SystemError("stat " + path, errno));
  if (!S_ISDIR(st.st_mode)) return Fail(ErrorKind::kSystem, path + " is not a directory");
  if (st.st_uid != geteuid()) {
    return Fail(ErrorKind::kSystem, path + " is owned by uid " + std::to_string(st.st_uid) +
                                        ", not by us (uid " + std::to_string(geteuid()) +
                                        "): refusing to keep state there");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(ErrorKind::kSystem, path + " is writable by group or others (mode " + mode +
                                        "): refusing to keep state there");
  }
  return {};
}

Result<UniqueFd> OpenDirNoFollow(int at, const char* name, const std::string& path) {
  const int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return Fail(ErrorKind::kNotFound, path + " does not exist");
    if (error == ELOOP || error == ENOTDIR) {
      return Fail(ErrorKind::kSystem, path + " is a symlink or not a directory: refusing it");
    }
    return std::unexpected(SystemError("open " + path, error));
  }
  return UniqueFd(fd);
}

// mkdir -p with 0700 for what is missing. Existing ancestors are left as
// they are (see PrivateDir).
Result<void> CreateChain(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    if (path[pos - 1] == '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return std::unexpected(SystemError("mkdir " + prefix, errno));
    }
  }
  return {};
}

Result<void> FsyncDir(int fd, const std::string& path) {
  if (fsync(fd) != 0) return std::unexpected(SystemError("fsync " + path, errno));
  return {};
}

Result<void> WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SystemError("write " + path, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Error SystemError(const std::string& what, int error) {
  return Error{ErrorKind::kSystem, what + ": " + ErrnoText(error)};
}

// Every entry name but "." and "..", from a fresh open file description
// (a dup would share, and move, the directory offset of `fd`).
Result<std::vector<std::string>> DirectoryEntries(int fd, const std::string& path) {
  const int own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) return std::unexpected(SystemError("open " + path, errno));
  DIR* dir = fdopendir(own);
  if (dir == nullptr) {
    const int error = errno;
    close(own);
    return std::unexpected(SystemError("opendir " + path, error));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) break;
    const std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int error = errno;
  closedir(dir);
  if (error != 0) return std::unexpected(SystemError("readdir " + path, error));
  std::sort(names.begin(), names.end());
  return names;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

bool IsTempFileName(std::string_view name) {
  return name.starts_with('.') && name.find(kTempMarker) != std::string_view::npos;
}

Result<PrivateDir> PrivateDir::Open(const std::string& path, Create create) {
  if (path.empty()) return Fail(ErrorKind::kInvalidInput, "empty directory path");
  std::string clean = path;
  // "dir/" would make O_NOFOLLOW follow a symlink named dir.
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  auto fd = OpenDirNoFollow(AT_FDCWD, clean.c_str(), clean);
  if (!fd && fd.error().kind == ErrorKind::kNotFound && create == Create::kYes) {
    if (auto made = CreateChain(clean); !made) return std::unexpected(made.error());
    fd = OpenDirNoFollow(AT_FDCWD, clean.c_str(), clean);
  }
  if (!fd) return std::unexpected(fd.error());
  if (auto ok = CheckPrivate(fd->get(), clean); !ok) return std::unexpected(ok.error());
  return PrivateDir(std::move(*fd), clean);
}

Result<PrivateDir> PrivateDir::Subdir(std::string_view name, Create create) const {
  const std::string path = Join(path_, name);
  if (!IsPlainFileName(name)) return Fail(ErrorKind::kInvalidInput, "bad directory name " + path);
  const std::string name_z(name);
  if (create == Create::kYes && mkdirat(fd(), name_z.c_str(), 0700) != 0 && errno != EEXIST) {
    return std::unexpected(SystemError("mkdir " + path, errno));
  }
  auto sub = OpenDirNoFollow(fd(), name_z.c_str(), path);
  if (!sub) return std::unexpected(sub.error());
  if (auto ok = CheckPrivate(sub->get(), path); !ok) return std::unexpected(ok.error());
  return PrivateDir(std::move(*sub), path);
}

Result<void> PrivateDir::WriteAtomically(std::string_view name, std::string_view contents) const {
  const std::string path = Join(path_, name);
  if (!IsPlainFileName(name) || name.starts_with('.')) {
    return Fail(ErrorKind::kInvalidInput, "bad file name " + path);
  }
  std::string temp;
  UniqueFd out;
  for (int attempt = 0; attempt < 100 && !out.valid(); ++attempt) {
    temp = "." + std::string(name) + std::string(kTempMarker) + UniqueSuffix();
    const int created =
        openat(fd(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (created >= 0) {
      out = UniqueFd(created);
    } else if (errno != EEXIST) {
      return std::unexpected(SystemError("create " + Join(path_, temp), errno));
    }
  }
  if (!out.valid()) return Fail(ErrorKind::kSystem, "no free temporary name for " + path);

  auto fail = [&](Error error) -> Result<void> {
    unlinkat(fd(), temp.c_str(), 0);
    return std::unexpected(std::move(error));
  };
  if (auto written = WriteAll(out.get(), contents, Join(path_, temp)); !written) {
    return fail(written.error());
  }
  // Without this the rename can reach the disk before the data: after a power
  // cut the target would exist but be empty.
  if (fsync(out.get()) != 0) return fail(SystemError("fsync " + Join(path_, temp), errno));
  if (close(out.Release()) != 0) return fail(SystemError("close " + Join(path_, temp), errno));
  const std::string name_z(name);
  if (renameat(fd(), temp.c_str(), fd(), name_z.c_str()) != 0) {
    return fail(SystemError("rename to " + path, errno));
  }
  return FsyncDir(fd(), path_);
}

Result<std::optional<std::string>> PrivateDir::ReadFile(std::string_view name,
                                                        std::size_t max_size) const {
  const std::string path = Join(path_, name);
  if (!IsPlainFileName(name)) return Fail(ErrorKind::kInvalidInput, "bad file name " + path);
  const std::string name_z(name);
  // O_NONBLOCK: a FIFO planted under the name must not hang the hook.
  const int raw =
      openat(fd(), name_z.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (raw < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    if (errno == ELOOP) return Fail(ErrorKind::kSystem, path + " is a symlink: refusing it");
    return std::unexpected(SystemError("open " + path, errno));
  }
  const UniqueFd in(raw);
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return std::unexpected(SystemError("stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return Fail(ErrorKind::kSystem, path + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return Fail(ErrorKind::kSystem, path + " is larger than " + std::to_string(max_size) +
                                        " bytes: not a file we wrote");
  }
  std::string data;
  char buffer[8192];
  while (true) {
    const ssize_t n = read(in.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SystemError("read " + path, errno));
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > max_size) {
      return Fail(ErrorKind::kSystem, path + " is larger than " + std::to_string(max_size) +
                                          " bytes: not a file we wrote");
    }
  }
  return std::optional<std::string>(std::move(data));
}

Result<bool> PrivateDir::RemoveFile(std::string_view name) const {
  const std::string path = Join(path_, name);
  if (!IsPlainFileName(name)) return Fail(ErrorKind::kInvalidInput, "bad file name " + path);
  const std::string name_z(name);
  if (unlinkat(fd(), name_z.c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    return std::unexpected(SystemError("remove " + path, errno));
  }
  if (auto synced = FsyncDir(fd(), path_); !synced) return std::unexpected(synced.error());
  return true;
}

Result<std::vector<std::string>> PrivateDir::FileNames() const {
  auto names = DirectoryEntries(fd(), path_);
  if (!names) return names;
  std::erase_if(*names, [](const std::string& n) { return IsTempFileName(n); });
  return names;
}

Result<std::size_t> PrivateDir::RemoveTempFiles() const {
  auto names = DirectoryEntries(fd(), path_);
  if (!names) return std::unexpected(names.error());
  std::size_t removed = 0;
  for (const std::string& name : *names) {
    if (!IsTempFileName(name)) continue;
    if (unlinkat(fd(), name.c_str(), 0) != 0 && errno != ENOENT) {
      return std::unexpected(SystemError("remove " + Join(path_, name), errno));
    }
    ++removed;
  }
  if (removed != 0) {
    if (auto synced = FsyncDir(fd(), path_); !synced) return std::unexpected(synced.error());
  }
  return removed;
}

Result<DirLock> DirLock::Acquire(const PrivateDir& dir, std::string_view name) {
  const std::string path = Join(dir.path(), name);
  if (!IsPlainFileName(name)) return Fail(ErrorKind::kInvalidInput, "bad lock name " + path);
  const std::string name_z(name);
  const int raw =
      openat(dir.fd(), name_z.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (raw < 0) return std::unexpected(SystemError("open " + path, errno));
  UniqueFd fd(raw);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return std::unexpected(SystemError("stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return Fail(ErrorKind::kSystem, path + " is not a regular file");
  while (flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return std::unexpected(SystemError("flock " + path, errno));
  }
  return DirLock(std::move(fd));
}

}  // namespace nvh
