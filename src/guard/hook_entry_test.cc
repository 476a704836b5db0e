#include "guard/hook_entry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

// The hook's whole path with the emulated host's ndctl JSON, a regular file
// as its dax0.0 and the probe off.
class HookEntry : public ::testing::Test {
 protected:
  HookEntry() {
    std::filesystem::create_directories(dir_.path() + "/dev");
    std::ofstream(dir_.path() + "/dev/dax0.0").put('\0');
    config_.inventory = std::string(NVH_SOURCE_DIR) + "/tests/data/ndctl-list-N-v.emulated.json";
    config_.device_dir = dir_.path() + "/dev";
    config_.run_dir = dir_.path() + "/run";
    config_.state_dir = dir_.path() + "/state";
    config_.libvirt_run_dirs = {dir_.path() + "/libvirt-run"};
    config_.probe = ProbeMode::kOff;
  }

  HookExit Call(const std::string& op, const std::string& xml) {
    return RunHookCall(
        {"vm1", op, "begin", xml}, log_, [this] { return Result<HookConfig>(config_); },
        [this](const HookConfig& config) { return PartsFromConfig(config, &log_); });
  }

  std::string Domain(const std::string& arch, const std::string& path) {
    return "<domain><name>vm1</name><uuid>5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e01</uuid>"
           "<memory unit='MiB'>256</memory><os><type arch='" +
           arch +
           "'>hvm</type></os><devices><memory model='nvdimm' access='shared'><source><path>" +
           path + "</path></source><target><size unit='MiB'>128</size></target></memory>" +
           "</devices></domain>";
  }

  ScopedTempDir dir_;
  HookConfig config_;
  MemoryDecisionLog log_;
};

// Before issue 10 an unknown architecture failed to read and the hook let
// the start go on with a syslog line, the namespace unclaimed.
TEST_F(HookEntry, HostNamespaceOnUnknownArchitectureIsRefusedNamingIt) {
  for (const std::string op : {"prepare", "start"}) {
    const HookExit exit = Call(op, Domain("s390x", config_.device_dir + "/dax0.0"));
    EXPECT_EQ(exit.exit_code, 1) << op;
    EXPECT_NE(exit.user_message.find("architecture 's390x'"), std::string::npos)
        << exit.user_message;
  }
  EXPECT_FALSE(std::filesystem::exists(config_.run_dir + "/claims"));
}

TEST_F(HookEntry, UnknownArchitectureWithoutHostNamespacePasses) {
  EXPECT_EQ(Call("prepare", Domain("s390x", "/tmp/nvdimm-file")).exit_code, 0);
  EXPECT_EQ(Call("prepare", Domain("riscv64", config_.device_dir + "/not-a-namespace")).exit_code,
            0);
}

TEST_F(HookEntry, OperationsThatCannotRefuseNeverFail) {
  for (const std::string op : {"started", "stopped", "release", "reconnect"}) {
    EXPECT_EQ(Call(op, Domain("s390x", config_.device_dir + "/dax0.0")).exit_code, 0) << op;
  }
}

}  // namespace
}  // namespace nvh
