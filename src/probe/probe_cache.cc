#include "probe/probe_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <system_error>
#include <vector>

#include "state/atomic_file.h"

namespace nvh {
namespace {

using Json = nlohmann::json;

constexpr char kLockFile[] = "probe-cache.lock";
constexpr int kFormat = 1;

std::int64_t Nanoseconds(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

Json EmulatorToJson(const EmulatorIdentity& e) {
  return {{"path", e.path}, {"device", e.device},     {"inode", e.inode},
          {"size", e.size}, {"mtime_ns", e.mtime_ns}, {"ctime_ns", e.ctime_ns}};
}

EmulatorIdentity EmulatorFromJson(const Json& j) {
  EmulatorIdentity e;
  e.path = j.at("path").get<std::string>();
  e.device = j.at("device").get<std::uint64_t>();
  e.inode = j.at("inode").get<std::uint64_t>();
  e.size = j.at("size").get<std::uint64_t>();
  e.mtime_ns = j.at("mtime_ns").get<std::int64_t>();
  e.ctime_ns = j.at("ctime_ns").get<std::int64_t>();
  return e;
}

Json KeyToJson(const ProbeCacheKey& k) {
  return {{"emulator", EmulatorToJson(k.emulator)},
          {"machine", k.machine},
          {"target_size", k.target_size},
          {"label_size", k.label_size},
          {"align_size", k.align_size},
          {"pmem", k.pmem}};
}

ProbeCacheKey KeyFromJson(const Json& j) {
  ProbeCacheKey k;
  k.emulator = EmulatorFromJson(j.at("emulator"));
  k.machine = j.at("machine").get<std::string>();
  k.target_size = j.at("target_size").get<std::uint64_t>();
  k.label_size = j.at("label_size").get<std::uint64_t>();
  k.align_size = j.at("align_size").get<std::uint64_t>();
  k.pmem = j.at("pmem").get<bool>();
  return k;
}

// Only what identifies the answer; timings and notes belong to the one run.
Json MeasurementToJson(const ProbeMeasurement& m) {
  return {{"guest_size", m.guest_size},
          {"label_size", m.label_size},
          {"addr", m.addr},
          {"slot", m.slot},
          {"node", m.node},
          {"qemu_version", m.qemu_version},
          {"qemu_package", m.qemu_package},
          {"probe_us", m.elapsed.count()}};
}

ProbeMeasurement MeasurementFromJson(const Json& j) {
  ProbeMeasurement m;
  m.guest_size = j.at("guest_size").get<std::uint64_t>();
  m.label_size = j.at("label_size").get<std::uint64_t>();
  m.addr = j.value("addr", std::uint64_t{0});
  m.slot = j.value("slot", std::int64_t{-1});
  m.node = j.value("node", std::int64_t{-1});
  m.qemu_version = j.value("qemu_version", "");
  m.qemu_package = j.value("qemu_package", "");
  m.elapsed = std::chrono::microseconds(j.value("probe_us", std::int64_t{0}));
  return m;
}

struct Entry {
  ProbeCacheKey key;
  ProbeMeasurement measurement;
};

// The entries of `text`; any deviation from the format is an error naming
// the file (the file is ours, so a deviation means damage, not a dialect).
Result<std::vector<Entry>> Parse(const std::string& text, const std::string& path) {
  const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Fail(ErrorKind::kInvalidInput, path + ": not JSON");
  try {
    if (doc.at("format").get<int>() != kFormat) {
      return Fail(ErrorKind::kInvalidInput, path + ": unknown format " + doc["format"].dump());
    }
    std::vector<Entry> entries;
    for (const Json& e : doc.at("entries")) {
      entries.push_back({KeyFromJson(e.at("key")), MeasurementFromJson(e.at("measured"))});
    }
    return entries;
  } catch (const Json::exception& e) {
    return Fail(ErrorKind::kInvalidInput, path + ": " + e.what());
  }
}

Result<std::vector<Entry>> ReadEntries(const PrivateDir& dir) {
  auto text = dir.ReadFile(kProbeCacheFile, ProbeCache::kMaxFileSize);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::vector<Entry>{};
  return Parse(**text, dir.path() + "/" + kProbeCacheFile);
}

}  // namespace

Result<EmulatorIdentity> EmulatorIdentity::Of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int error = errno;
    return Fail(error == ENOENT ? ErrorKind::kNotFound : ErrorKind::kSystem,
                path + ": " + std::generic_category().message(error));
  }
  EmulatorIdentity e;
  e.path = path;
  e.device = static_cast<std::uint64_t>(st.st_dev);
  e.inode = static_cast<std::uint64_t>(st.st_ino);
  e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime_ns = Nanoseconds(st.st_mtim);
  e.ctime_ns = Nanoseconds(st.st_ctim);
  return e;
}

Result<ProbeCacheKey> ProbeCacheKey::For(const ProbeRequest& request) {
  auto emulator = EmulatorIdentity::Of(request.emulator);
  if (!emulator) return std::unexpected(emulator.error());
  ProbeCacheKey key;
  key.emulator = std::move(*emulator);
  key.machine = request.machine;
  key.target_size = request.target_size;
  key.label_size = request.label_size;
  key.align_size = request.align_size;
  key.pmem = request.pmem;
  return key;
}

Result<std::optional<ProbeMeasurement>> ProbeCache::Lookup(const ProbeCacheKey& key) const {
  auto dir = PrivateDir::Open(state_dir_, PrivateDir::Create::kNo);
  if (!dir) {
    if (dir.error().kind == ErrorKind::kNotFound) return std::nullopt;
    return std::unexpected(dir.error());
  }
  // No lock: the file is replaced by rename, a reader sees one whole version.
  auto entries = ReadEntries(*dir);
  if (!entries) return std::unexpected(entries.error());
  for (const Entry& entry : *entries) {
    if (entry.key == key) return entry.measurement;
  }
  return std::nullopt;
}

Result<void> ProbeCache::Store(const ProbeCacheKey& key,
                               const ProbeMeasurement& measurement) const {
  auto dir = PrivateDir::Open(state_dir_, PrivateDir::Create::kYes);
  if (!dir) return std::unexpected(dir.error());
  // Two hooks starting two domains may both store: without the lock one
  // read-modify-write would drop the other's entry.
  auto lock = DirLock::Acquire(*dir, kLockFile);
  if (!lock) return std::unexpected(lock.error());
  auto entries = ReadEntries(*dir);
  // A damaged cache is rebuilt rather than kept: it only costs probes.
  std::vector<Entry> kept;
  if (entries) {
    for (Entry& entry : *entries) {
      if (entry.key == key) continue;
      if (entry.key.emulator.path == key.emulator.path && entry.key.emulator != key.emulator) {
        continue;  // that binary is gone or was replaced
      }
      kept.push_back(std::move(entry));
    }
  }
  kept.push_back({key, measurement});
  if (kept.size() > kMaxEntries) {
    kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(kept.size() - kMaxEntries));
  }
  Json list = Json::array();
  for (const Entry& entry : kept) {
    list.push_back(
        {{"key", KeyToJson(entry.key)}, {"measured", MeasurementToJson(entry.measurement)}});
  }
  const Json doc = {{"format", kFormat}, {"entries", std::move(list)}};
  return dir->WriteAtomically(kProbeCacheFile, doc.dump(2) + "\n");
}

}  // namespace nvh
