// Crash-safe files in private directories (DESIGN.md §5). A reader sees either
// the old or the new content of a file, never a mix: writers fill a temporary
// file next to the target and rename it over the target.
//
// Every operation works relative to an open directory descriptor, so a path
// is resolved once: a directory swapped for a symlink after the check cannot
// redirect a root process's writes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace nvh {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();

 private:
  int fd_ = -1;
};

// kSystem "<what>: <strerror>".
Error SystemError(const std::string& what, int error);

// Every entry name of the directory open as `fd` but "." and "..", sorted,
// from a fresh open file description (a dup would share, and move, the
// directory offset of `fd`). `path` names it in errors.
Result<std::vector<std::string>> DirectoryEntries(int fd, const std::string& path);

// A plain entry name: non-empty, at most 255 bytes, no '/' or NUL, not "." or
// "..". The minimum for a name never to leave its directory.
bool IsPlainFileName(std::string_view name);

// Temporary files are ".<target>.tmp-<unique>": names that start with '.',
// which no store accepts as a key, so listings skip them without a second
// rule.
bool IsTempFileName(std::string_view name);

// A directory that only this user can change: a real directory (not a
// symlink), owned by the effective uid, not writable by group or others.
// Those are the checks that matter for a root hook writing in /run and
// /var/lib: anyone else able to add, rename or replace entries could point
// root's writes elsewhere or plant state. Ancestors are not checked (they may
// legitimately be symlinks such as /var/run -> /run); an attacker who could
// swap an ancestor can only lead us to another directory that passes the
// same checks, i.e. one of our own.
class PrivateDir {
 public:
  enum class Create { kNo, kYes };

  // Opens `path` (absolute or relative). With Create::kYes, missing
  // directories of the chain are created 0700; otherwise a missing directory
  // is kNotFound.
  static Result<PrivateDir> Open(const std::string& path, Create create);

  // The subdirectory `name` of this one, with the same checks.
  Result<PrivateDir> Subdir(std::string_view name, Create create) const;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Replaces (or creates) `name` with `contents`, mode 0600: temp file
  // (O_CREAT|O_EXCL), write, fsync, rename, fsync the directory. On failure
  // the target is unchanged and the temp file is removed.
  Result<void> WriteAtomically(std::string_view name, std::string_view contents) const;

  // The content of regular file `name`, nullopt when it does not exist.
  // Refuses symlinks, non-regular files and files larger than `max_size`.
  Result<std::optional<std::string>> ReadFile(std::string_view name, std::size_t max_size) const;

  // Removes `name`; false when it did not exist. The directory is fsync'd.
  Result<bool> RemoveFile(std::string_view name) const;

  // Every entry except ".", ".." and temp files, sorted.
  Result<std::vector<std::string>> FileNames() const;

  // Removes the temp files of writers that died before their rename. Only
  // safe while holding the lock that serialises this directory's writers (a
  // live writer's temp file would be removed under it); returns how many.
  Result<std::size_t> RemoveTempFiles() const;

 private:
  PrivateDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

// An exclusive flock on file `name` in `dir` (created 0600), held until
// destruction. Blocks until the lock is free. The descriptor is close-on-exec:
// a flock belongs to the open file description, so a child that inherited it
// (the QEMU probe, say) would hold the lock after we are gone. A process that
// dies, even by SIGKILL, releases it.
class DirLock {
 public:
  static Result<DirLock> Acquire(const PrivateDir& dir, std::string_view name);

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace nvh
