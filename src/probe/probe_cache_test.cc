#include "probe/probe_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/sizing.h"
#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

class ProbeCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    emulator_ = temp_.path() + "/qemu-system-x86_64";
    WriteEmulator("#!/bin/sh\n");
    state_ = temp_.path() + "/state";
  }

  void WriteEmulator(const std::string& text) {
    std::ofstream(emulator_, std::ios::trunc) << text;
    chmod(emulator_.c_str(), 0755);
  }

  ProbeCacheKey Key() {
    ProbeRequest r;
    r.emulator = emulator_;
    r.machine = "pc";
    r.target_size = 386 * MiB;
    r.label_size = 128 * KiB;
    r.align_size = 2 * MiB;
    r.pmem = true;
    auto key = ProbeCacheKey::For(r);
    EXPECT_TRUE(key) << key.error().message;
    return *key;
  }

  static ProbeMeasurement Measurement(std::uint64_t guest) {
    ProbeMeasurement m;
    m.guest_size = guest;
    m.label_size = 128 * KiB;
    m.addr = 4 * GiB;
    m.slot = 0;
    m.node = 0;
    m.qemu_version = "7.2.22";
    m.qemu_package = "Debian";
    m.notes = {"not stored"};
    return m;
  }

  ScopedTempDir temp_;
  std::string emulator_;
  std::string state_;
};

TEST_F(ProbeCacheTest, MissWithoutStateDirThenHitAfterStore) {
  ProbeCache cache(state_);
  auto miss = cache.Lookup(Key());
  ASSERT_TRUE(miss) << miss.error().message;
  EXPECT_FALSE(*miss);

  ASSERT_TRUE(cache.Store(Key(), Measurement(384 * MiB)));
  auto hit = cache.Lookup(Key());
  ASSERT_TRUE(hit && *hit);
  EXPECT_EQ((*hit)->guest_size, 384 * MiB);
  EXPECT_EQ((*hit)->label_size, 128 * KiB);
  EXPECT_EQ((*hit)->addr, 4 * GiB);
  EXPECT_EQ((*hit)->qemu_version, "7.2.22");
  EXPECT_TRUE((*hit)->notes.empty());

  struct stat st {};
  ASSERT_EQ(stat(cache.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(state_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(ProbeCacheTest, EveryKeyFieldCounts) {
  ProbeCache cache(state_);
  ASSERT_TRUE(cache.Store(Key(), Measurement(384 * MiB)));
  auto miss = [&](ProbeCacheKey key) {
    auto r = cache.Lookup(key);
    return r && !*r;
  };
  ProbeCacheKey k = Key();
  k.machine = "q35";
  EXPECT_TRUE(miss(k));
  k = Key();
  k.target_size += 2 * MiB;
  EXPECT_TRUE(miss(k));
  k = Key();
  k.label_size = 256 * KiB;
  EXPECT_TRUE(miss(k));
  k = Key();
  k.align_size = GiB;
  EXPECT_TRUE(miss(k));
  k = Key();
  k.pmem = false;
  EXPECT_TRUE(miss(k));
  k = Key();
  k.emulator.inode += 1;
  EXPECT_TRUE(miss(k));
}

TEST_F(ProbeCacheTest, AnUpgradedBinaryMissesAndItsOldEntriesGo) {
  ProbeCache cache(state_);
  const ProbeCacheKey old_key = Key();
  ASSERT_TRUE(cache.Store(old_key, Measurement(384 * MiB)));
  // Another binary's entry survives the upgrade of this one.
  ProbeCacheKey other = old_key;
  other.emulator.path = "/usr/bin/qemu-system-aarch64";
  ASSERT_TRUE(cache.Store(other, Measurement(1 * GiB)));

  // A package upgrade: a new file renamed over the old one (new inode).
  const std::string replacement = emulator_ + ".new";
  std::ofstream(replacement) << "#!/bin/sh\n# 7.2.23\n";
  std::filesystem::rename(replacement, emulator_);
  const ProbeCacheKey new_key = Key();
  ASSERT_NE(new_key.emulator, old_key.emulator);
  auto lookup = cache.Lookup(new_key);
  ASSERT_TRUE(lookup);
  EXPECT_FALSE(*lookup);

  ASSERT_TRUE(cache.Store(new_key, Measurement(382 * MiB)));
  lookup = cache.Lookup(old_key);
  ASSERT_TRUE(lookup);
  EXPECT_FALSE(*lookup) << "the old binary's entry should be gone";
  lookup = cache.Lookup(other);
  ASSERT_TRUE(lookup && *lookup);
  EXPECT_EQ((*lookup)->guest_size, 1 * GiB);
}

TEST_F(ProbeCacheTest, RewriteInPlaceChangesTheIdentity) {
  const ProbeCacheKey before = Key();
  WriteEmulator("#!/bin/sh\n# a different build of the same size?\n");
  EXPECT_NE(Key().emulator, before.emulator);
}

TEST_F(ProbeCacheTest, ADamagedFileIsAnErrorAndStoreRebuildsIt) {
  ProbeCache cache(state_);
  ASSERT_TRUE(cache.Store(Key(), Measurement(384 * MiB)));
  std::ofstream(cache.path(), std::ios::trunc) << "{\"format\": 1, \"entries\": [";
  auto lookup = cache.Lookup(Key());
  ASSERT_FALSE(lookup);
  EXPECT_EQ(lookup.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(lookup.error().message.find(cache.path()), std::string::npos);

  ASSERT_TRUE(cache.Store(Key(), Measurement(384 * MiB)));
  lookup = cache.Lookup(Key());
  ASSERT_TRUE(lookup && *lookup);
}

TEST_F(ProbeCacheTest, BoundedNumberOfEntries) {
  ProbeCache cache(state_);
  ProbeCacheKey key = Key();
  ASSERT_TRUE(cache.Store(key, Measurement(384 * MiB)));
  // A full cache, written directly: kMaxEntries stores would fsync that often.
  std::ifstream in(cache.path());
  nlohmann::json doc = nlohmann::json::parse(in);
  const nlohmann::json first = doc["entries"][0];
  for (std::size_t i = 1; i < ProbeCache::kMaxEntries; ++i) {
    nlohmann::json entry = first;
    entry["key"]["target_size"] = (386 + 2 * i) * MiB;
    doc["entries"].push_back(entry);
  }
  std::ofstream(cache.path(), std::ios::trunc) << doc.dump();

  ProbeCacheKey newest = key;
  newest.target_size = GiB;
  ASSERT_TRUE(cache.Store(newest, Measurement(GiB - 2 * MiB)));
  auto hit = cache.Lookup(newest);
  ASSERT_TRUE(hit && *hit);
  auto oldest = cache.Lookup(key);
  ASSERT_TRUE(oldest);
  EXPECT_FALSE(*oldest) << "the oldest entry should have made room";
  key.target_size = 388 * MiB;  // the second oldest stays
  auto second = cache.Lookup(key);
  ASSERT_TRUE(second && *second);
}

TEST_F(ProbeCacheTest, MissingEmulatorHasNoKey) {
  ProbeRequest r;
  r.emulator = temp_.path() + "/nope";
  auto key = ProbeCacheKey::For(r);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind, ErrorKind::kNotFound);
}

}  // namespace
}  // namespace nvh
