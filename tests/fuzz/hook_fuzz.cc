// The hook's whole path from stdin to its decision (guard/hook_entry.h), as
// src/hook/main.cc runs it: the first input byte picks the libvirt operation,
// the rest is the domain XML on stdin. The config is the emulated host's
// ndctl JSON with regular files as its devices, state under a temp dir, the
// QEMU probe off (a QEMU launch per input would fuzz QEMU, not us).
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "core/decision_log.h"
#include "fuzz_support.h"
#include "guard/hook_entry.h"

namespace {

class NullLog final : public nvh::DecisionLog {
 public:
  void Record(nvh::Severity, std::string_view) override {}
};

const nvh::HookConfig& Config() {
  static const nvh::HookConfig config = [] {
    std::string pattern = std::filesystem::temp_directory_path() / "nvh-hook-fuzz.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) nvh::fuzz::Broken();
    const std::filesystem::path root(pattern);
    for (const char* dir : {"dev", "run", "state", "libvirt-run"}) {
      std::filesystem::create_directories(root / dir);
    }
    for (const char* device : {"dax0.0", "pmem0.1", "pmem0.2s", "pmem0.3"}) {
      std::ofstream(root / "dev" / device).put('\0');
    }
    nvh::HookConfig c;
    c.inventory = NVH_SOURCE_DIR "/tests/data/ndctl-list-N-v.emulated.json";
    c.device_dir = root / "dev";
    c.run_dir = root / "run";
    c.state_dir = root / "state";
    c.libvirt_run_dirs = {root / "libvirt-run"};
    c.probe = nvh::ProbeMode::kOff;
    return c;
  }();
  return config;
}

constexpr std::array<const char*, 8> kOps{"prepare", "start",   "started", "stopped",
                                          "release", "migrate", "restore", "reconnect"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  NullLog log;
  const nvh::HookInvocation call{"fuzz", kOps[data[0] % kOps.size()], "begin",
                                 std::string(nvh::fuzz::AsText(data + 1, size - 1))};
  const nvh::HookExit result = nvh::RunHookCall(
      call, log, [] { return nvh::Result<nvh::HookConfig>(Config()); },
      [&log](const nvh::HookConfig& config) { return nvh::PartsFromConfig(config, &log); });
  if (result.exit_code != 0 && result.exit_code != 1) nvh::fuzz::Broken();
  if (result.exit_code == 1 && result.user_message.empty()) nvh::fuzz::Broken();  // say why
  return 0;
}
