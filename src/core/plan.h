// annotation + inventory + domain -> the devices and prerequisites the domain
// must have, and how a domain differs from that (DESIGN.md §1 "plan").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/adoption.h"
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
  // The layout the namespace already had (layout record, else the device in
  // the definition); absent for a new device. `kept`: `layout` is exactly
  // that one. An existing layout that is not kept is unusable (its refusals
  // say why) or was replaced on request (PlanOptions::relayout).
  std::optional<Adoption> existing;
  bool kept = false;
  // The computed layout, which a new device gets; what a kept one gives up.
  std::optional<Layout> optimal;
  std::string optimal_error;  // why there is none
  // Requests of the annotation the kept layout does not follow (a new label=).
  std::vector<std::string> pending;
  int node = 0;      // guest NUMA node
  std::string path;  // host.DevicePath()
  // The namespace's device in the definition when the kernel renumbered its
  // node since the last start (the record's path, still in the definition,
  // no longer this namespace's): that device becomes this one, it is not a
  // second one, and a device at `path` (if any) is another's. Empty otherwise.
  std::string previous_path;

  // The source path of this namespace's device in the definition, if it has one.
  const std::string& DefinitionPath() const { return previous_path.empty() ? path : previous_path; }
  // Whether the definition's device at `source_path` is this one.
  bool IsDeviceAt(const std::string& source_path) const { return source_path == DefinitionPath(); }

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

struct PlanOptions {
  // The layouts of the last start (layout record): the authority on what the
  // guest saw, before the definition.
  std::vector<RecordedLayout> recorded;
  // Computes every layout afresh, moving existing ones (nvdimmctl sync
  // --relayout, after it said what moves).
  bool relayout = false;
};

// Resolves every annotation entry against the inventory; keeps every usable
// existing layout (adoption.h) and computes the layout of new devices. Errors
// name the domain, the element and the value.
Result<Plan> MakePlan(const Domain& domain, const HostNamespaces& inventory,
                      const PlanOptions& options = {});

// One sentence per device whose existing layout the plan cannot keep (so the
// plan would move it): what it is, where it comes from and why it cannot work.
std::vector<std::string> UnkeptLayouts(const Plan& plan);

// One line per device whose existing layout the plan keeps: "kept: existing
// layout", what it gives up and what the computed layout would be; and what
// of the annotation it does not follow.
std::vector<std::string> KeptLayoutNotes(const Plan& plan);

// How `domain` differs from `plan`, one plain sentence per difference; empty
// when the domain is exactly as planned.
std::vector<std::string> DiffAgainstPlan(const Domain& domain, const Plan& plan);

}  // namespace nvh
