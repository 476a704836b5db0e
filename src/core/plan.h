// annotation + inventory + domain -> the devices and prerequisites the domain
// must have, and how a domain differs from that (DESIGN.md §1 "plan").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/annotation.h"
#include "core/domain.h"
#include "core/host_namespace.h"
#include "core/memory_block.h"
#include "core/sizing.h"
#include "util/error.h"

namespace nvh {

struct PlannedDevice {
  HostNamespace host;                    // the resolved namespace
  std::optional<NvdimmRequest> request;  // absent: an nvdimm found without annotation
  Layout layout;
  int node = 0;      // guest NUMA node
  std::string path;  // host.DevicePath()

  // The <memory model='nvdimm'> device this plan wants.
  MemoryDevice Device() const;
};

// What libvirt needs besides the devices to start the domain at all
// (libvirt qemuDomainDefValidateMemoryHotplug; "memory hotplug is not
// enabled: missing acpi device" at start without <acpi/>).
struct Prerequisites {
  std::uint64_t memory = 0;                     // <memory>: initial + every memory device
  std::optional<std::uint64_t> current_memory;  // set when it must follow <memory>
  std::uint64_t max_memory = 0;                 // <maxMemory> at least this
  unsigned max_memory_slots = 0;                // slots at least this
  std::optional<NumaCell> add_numa_cell;        // a cell 0 when the domain has none
  std::string add_numa_cell_cpus;               // "0-3" for that cell
  bool add_acpi = false;
};

struct Plan {
  std::string domain;  // domain name, for messages
  Arch arch = Arch::kX86_64;
  std::vector<PlannedDevice> devices;  // annotation order, then unannotated
  Prerequisites prerequisites;
  MemoryBlockChoice memory_block;     // H every new device's guest area is a multiple of
  std::vector<std::string> warnings;  // adjustments the admin should know (label rounded up)
};

// The sizing input for a namespace: its usable size, mode, and the device
// alignment where the mode has one (fsdax, devdax).
Geometry NamespaceGeometry(const HostNamespace& ns, std::uint64_t label_size, Arch arch,
                           std::uint64_t hotplug_block = 0);

// Resolves every annotation entry against the inventory and computes its
// layout. Errors name the domain, the element and the value.
Result<Plan> MakePlan(const Domain& domain, const HostNamespaces& inventory);

// How `domain` differs from `plan`, one plain sentence per difference; empty
// when the domain is exactly as planned.
std::vector<std::string> DiffAgainstPlan(const Domain& domain, const Plan& plan);

}  // namespace nvh
