#include "config/hook_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

class HookConfigTest : public testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.path() + "/hook.conf";
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  ScopedTempDir dir_;
};

TEST_F(HookConfigTest, ReadsEveryKey) {
  auto config = LoadHookConfigFile(
      Write("inventory = /srv/ndctl.json\ndevice-dir = /srv/dev\nrun-dir = /srv/run\n"
            "state-dir = /srv/state\nlibvirt-run-dir = /a\nlibvirt-run-dir = /b\n"
            "claim-grace = 7\nprobe = off\nprobe-timeout = 5\n"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->inventory, "/srv/ndctl.json");
  EXPECT_EQ(config->device_dir, "/srv/dev");
  EXPECT_EQ(config->run_dir, "/srv/run");
  EXPECT_EQ(config->state_dir, "/srv/state");
  EXPECT_EQ(config->libvirt_run_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(config->claim_grace.count(), 7);
  EXPECT_EQ(config->probe, ProbeMode::kOff);
  EXPECT_EQ(config->probe_timeout.count(), 5);
}

TEST_F(HookConfigTest, BadValuesNameTheFileKeyAndValue) {
  struct Case {
    const char* text;
    const char* fragment;
  };
  for (const Case& c :
       {Case{"probe = maybe\n", "maybe"}, Case{"claim-grace = -1\n", "-1"},
        Case{"probe-timeout = 0\n", "probe-timeout 0"}, Case{"colour = blue\n", "colour"},
        Case{"run-dir = relative\n", "relative"}, Case{"claim-grace = soon\n", "claim-grace"}}) {
    const std::string path = Write(c.text);
    auto config = LoadHookConfigFile(path);
    ASSERT_FALSE(config) << c.text;
    EXPECT_NE(config.error().message.find(path), std::string::npos) << config.error().message;
    EXPECT_NE(config.error().message.find(c.fragment), std::string::npos) << config.error().message;
  }
}

TEST_F(HookConfigTest, SnapshotDirsDefaultToTheSystemDaemonsAndRepeat) {
  auto defaults = LoadHookConfigFile(Write("probe = auto\n"));
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->libvirt_snapshot_dirs,
            (std::vector<std::string>{"/var/lib/libvirt/qemu/snapshot"}));
  auto two = LoadHookConfigFile(
      Write("libvirt-snapshot-dir = /a/snap\nlibvirt-snapshot-dir = /home/u/.config/libvirt/qemu/"
            "snapshot\n"));
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(two->libvirt_snapshot_dirs,
            (std::vector<std::string>{"/a/snap", "/home/u/.config/libvirt/qemu/snapshot"}));
  const std::string path = Write("libvirt-snapshot-dir = snapshots\n");
  auto relative = LoadHookConfigFile(path);
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.error().message.find("'snapshots' is not an absolute path"), std::string::npos)
      << relative.error().message;
}

// Regression (fuzz.config, tests/fuzz/regressions/config): this hung for
// ever inside boost's error message formatting.
TEST_F(HookConfigTest, PlaceholderInValueIsRefusedNotHung) {
  for (const char* text :
       {"claim-grace = `06%value%'1\n", "probe = %value%\n", "%canonical_option% = 1\n"}) {
    const std::string path = Write(std::string("# a5\n") + text);
    auto config = LoadHookConfigFile(path);
    ASSERT_FALSE(config) << text;
    EXPECT_NE(config.error().message.find(path + ": line 2: '%' is not allowed"), std::string::npos)
        << config.error().message;
  }
  auto commented = LoadHookConfigFile(Write("probe = off  # 100% sure\n"));
  ASSERT_TRUE(commented) << commented.error().message;
  EXPECT_EQ(commented->probe, ProbeMode::kOff);
}

TEST_F(HookConfigTest, MissingNamedFileIsAnError) {
  auto config = LoadHookConfigFile(dir_.path() + "/nope.conf");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().kind, ErrorKind::kNotFound);
}

}  // namespace
}  // namespace nvh
