// What the host has: one NVDIMM namespace as libndctl or `ndctl list -N -v`
// reports it. Both inventory backends produce exactly this model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvh {

enum class NamespaceMode { kRaw, kSector, kFsdax, kDevdax };

std::string_view ModeName(NamespaceMode mode);  // "raw", "sector", "fsdax", "devdax"
std::optional<NamespaceMode> ParseMode(std::string_view name);

struct HostNamespace {
  std::string dev;   // bus device name, e.g. "namespace0.0"
  std::string name;  // ndctl's "name" (the label's alt name), may be empty
  // Identity. `uuid` is what `ndctl list` prints as "uuid": for sector, fsdax
  // and devdax the uuid of the BTT/PFN/DAX info block, for raw the label uuid.
  // It changes when the namespace is reconfigured into another mode, which is
  // exactly when a guest's data would move. `raw_uuid` is the label uuid
  // (ndctl's "raw_uuid"; empty for raw namespaces, where it equals `uuid`).
  // Label-less namespaces may have neither.
  std::string uuid;
  std::string raw_uuid;
  NamespaceMode mode = NamespaceMode::kRaw;
  // Usable size in bytes: what QEMU sees as the backing store size (devdax:
  // the dax device size; other modes: the block device size).
  std::uint64_t size = 0;
  // Device alignment in bytes (ndctl "align": fsdax/devdax); 0 when none.
  std::uint64_t align = 0;
  int numa_node = -1;    // host NUMA node, -1 when unknown
  std::string map;       // fsdax/devdax memmap location: "dev", "mem" or "none"
  std::string blockdev;  // "pmem0.1", "pmem0.2s" (not for devdax)
  std::string chardev;   // "dax0.0" (devdax only)
  // ndctl prints "state":"disabled" for a namespace that is configured but not
  // enabled; it has no device node.
  bool enabled = true;
  // The device node handed to QEMU (/dev/daxX.Y, /dev/pmemX[.N][s]), filled by
  // the inventory backend from its device directory. Empty when there is no
  // node a guest could use: a disabled namespace, or a dax device that is
  // disabled or given to the kernel as system-ram (its /dev node then fails
  // to open with ENXIO).
  std::string device_path;
  const std::string& DevicePath() const { return device_path; }
  // True when guest stores reach the media without the host page cache.
  bool IsDax() const { return mode == NamespaceMode::kDevdax; }
  // The key claims and layout records use: uuid, else raw_uuid, else dev.
  std::string IdentityKey() const;
};

using HostNamespaces = std::vector<HostNamespace>;

}  // namespace nvh
