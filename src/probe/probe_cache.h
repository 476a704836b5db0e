// What each QEMU binary made of each geometry, kept in
// <state_dir>/probe-cache.json so the hook probes once per binary and
// geometry, not at every start. The key holds the binary's identity (device,
// inode, size, mtime and ctime in ns): a package upgrade replaces the file
// (new inode) or rewrites it (new mtime), and either makes the old entries
// miss. The cache stores measurements, never verdicts: the caller compares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "probe/qemu_probe.h"
#include "util/error.h"

namespace nvh {

inline constexpr char kProbeCacheFile[] = "probe-cache.json";

// The file an emulator path names, as stat() (following symlinks) sees it.
struct EmulatorIdentity {
  std::string path;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;  // also catches a rewrite that restored the mtime

  bool operator==(const EmulatorIdentity&) const = default;

  // kNotFound when the path does not exist.
  static Result<EmulatorIdentity> Of(const std::string& path);
};

struct ProbeCacheKey {
  EmulatorIdentity emulator;
  std::string machine;
  std::uint64_t target_size = 0;
  std::uint64_t label_size = 0;
  std::uint64_t align_size = 0;
  bool pmem = false;

  bool operator==(const ProbeCacheKey&) const = default;

  // The key of a request's binary as it is on disk now.
  static Result<ProbeCacheKey> For(const ProbeRequest& request);
};

class ProbeCache {
 public:
  // Older entries beyond this are dropped at Store: a host has a handful of
  // binaries and geometries, this only bounds a pathological churn.
  static constexpr std::size_t kMaxEntries = 256;
  static constexpr std::size_t kMaxFileSize = 1 << 20;

  explicit ProbeCache(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // The file this cache lives in.
  std::string path() const { return state_dir_ + "/" + kProbeCacheFile; }

  // The measurement stored for exactly this key; nullopt on a miss (no state
  // dir, no file, no entry). An unreadable or corrupt file is an error: the
  // caller may treat it as a miss, Store then replaces it.
  Result<std::optional<ProbeMeasurement>> Lookup(const ProbeCacheKey& key) const;

  // Adds or replaces the entry for `key` and drops every entry of the same
  // emulator path whose identity is no longer `key.emulator` (the old QEMU).
  // Serialised with other writers by a lock file; the file is replaced
  // atomically (temp + fsync + rename), mode 0600, in a 0700 state dir that
  // is created when missing.
  Result<void> Store(const ProbeCacheKey& key, const ProbeMeasurement& measurement) const;

 private:
  std::string state_dir_;
};

}  // namespace nvh
