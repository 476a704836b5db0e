// /etc/nvdimm-hook/nvdimm-hook.conf: what the hook and nvdimmctl share.
// Boost.Program_options config-file syntax ("key = value", '#' comments).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/error.h"

namespace nvh {

inline constexpr char kDefaultConfigPath[] = "/etc/nvdimm-hook/nvdimm-hook.conf";
// Names another config file: for tests, and for admins trying settings out.
inline constexpr char kConfigEnvironmentVariable[] = "NVDIMM_HOOK_CONFIG";

enum class ProbeMode { kAuto, kOff };

struct HookConfig {
  std::string inventory = "libndctl";  // or a file of `ndctl list -N -v` JSON
  std::string device_dir = "/dev";     // where the JSON inventory's devices live
  std::string run_dir = "/run/nvdimm-hook";
  std::string state_dir = "/var/lib/nvdimm-hook";
  // Where libvirt keeps <domain name>.pid of running domains: the system
  // daemon's /run/libvirt/qemu; a session daemon's
  // $XDG_RUNTIME_DIR/libvirt/qemu/run. Several may be given.
  std::vector<std::string> libvirt_run_dirs = {"/run/libvirt/qemu"};
  // Where libvirt keeps snapshot metadata (<dir>/<domain>/<snapshot>.xml):
  // the system daemon's /var/lib/libvirt/qemu/snapshot; a session daemon's
  // $XDG_CONFIG_HOME/libvirt/qemu/snapshot. Several may be given. A domain
  // with a memory snapshot in any of them is refused (a revert would
  // overwrite its NVDIMMs).
  std::vector<std::string> libvirt_snapshot_dirs = {"/var/lib/libvirt/qemu/snapshot"};
  // A claim whose owner has no QEMU is stale only after this long: between
  // `prepare` and QEMU's fork there is no pid file yet.
  std::chrono::seconds claim_grace{300};
  ProbeMode probe = ProbeMode::kAuto;
  // One QEMU layout probe may take this long before it is killed and the
  // start refused.
  std::chrono::seconds probe_timeout{20};
  std::string source;  // the file these came from, or "" for built-in defaults
};

// Reads $NVDIMM_HOOK_CONFIG if set, else kDefaultConfigPath; a missing
// default file means the defaults. Unknown keys and bad values are errors
// naming the file, the key and the value.
Result<HookConfig> LoadHookConfig();
Result<HookConfig> LoadHookConfigFile(const std::string& path);

}  // namespace nvh
