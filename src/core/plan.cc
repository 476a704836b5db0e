#include "core/plan.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/arch_support.h"
#include "util/bytes.h"

namespace nvh {
namespace {

std::string LowerAscii(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string EntryContext(const Domain& domain, const NvdimmRequest& request) {
  return "domain '" + domain.name + "': <nvdimm:nvdimm " + DescribeSelector(request) + ">: ";
}

bool Selects(const NvdimmRequest& request, const HostNamespace& ns) {
  switch (request.kind) {
    case SelectorKind::kUuid: {
      const std::string wanted = LowerAscii(request.value);
      return wanted == LowerAscii(ns.uuid) ||
             (!ns.raw_uuid.empty() && wanted == LowerAscii(ns.raw_uuid));
    }
    case SelectorKind::kNamespace:
      return request.value == ns.dev;
    case SelectorKind::kPath:
      return !ns.DevicePath().empty() && request.value == ns.DevicePath();
  }
  return false;
}

Result<const HostNamespace*> Resolve(const Domain& domain, const NvdimmRequest& request,
                                     const HostNamespaces& inventory) {
  const HostNamespace* found = nullptr;
  for (const HostNamespace& ns : inventory) {
    if (!Selects(request, ns)) continue;
    if (found != nullptr) {
      return Fail(ErrorKind::kInvalidInput,
                  EntryContext(domain, request) + "matches both " + found->dev + " and " + ns.dev);
    }
    found = &ns;
  }
  if (found == nullptr) {
    // The hook never opens a path just because metadata names it.
    return Fail(ErrorKind::kNotFound,
                EntryContext(domain, request) + "no NVDIMM namespace on this host matches (" +
                    std::to_string(inventory.size()) + " namespaces in the inventory)");
  }
  if (found->DevicePath().empty()) {
    return Fail(ErrorKind::kInvalidInput,
                EntryContext(domain, request) + found->dev + " has no device node (disabled?)");
  }
  return found;
}

bool NodesetContains(const std::string& nodeset, int node) {
  // libvirt nodesets: "0", "0-3", "0,2-3", "^1" exclusions are not used in memnode.
  std::size_t pos = 0;
  while (pos < nodeset.size()) {
    std::size_t end = nodeset.find(',', pos);
    if (end == std::string::npos) end = nodeset.size();
    const std::string part = nodeset.substr(pos, end - pos);
    const std::size_t dash = part.find('-');
    try {
      const int lo = std::stoi(part.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
      if (node >= lo && node <= hi) return true;
    } catch (const std::exception&) {
      return false;
    }
    pos = end + 1;
  }
  return false;
}

// DESIGN.md §2: the guest cell whose <numatune><memnode> holds the namespace's
// host node, else 0.
int DefaultNode(const Domain& domain, const HostNamespace& ns) {
  if (ns.numa_node >= 0) {
    for (const auto& [cell, nodeset] : domain.memnode_nodesets) {
      if (NodesetContains(nodeset, ns.numa_node)) return cell;
    }
  }
  return 0;
}

Result<int> GuestNode(const Domain& domain, const NvdimmRequest* request, const HostNamespace& ns,
                      const std::string& context) {
  const int node = request && request->node ? *request->node : DefaultNode(domain, ns);
  const bool exists = domain.numa_cells.empty()
                          ? node == 0  // the rewrite adds cell 0
                          : std::any_of(domain.numa_cells.begin(), domain.numa_cells.end(),
                                        [node](const NumaCell& cell) { return cell.id == node; });
  if (!exists) {
    return Fail(ErrorKind::kInvalidInput,
                context + "guest NUMA node " + std::to_string(node) + " does not exist (" +
                    (domain.numa_cells.empty()
                         ? std::string("the domain has no NUMA cells")
                         : std::to_string(domain.numa_cells.size()) + " cells in <cpu><numa>") +
                    ")");
  }
  return node;
}

Result<PlannedDevice> PlanDevice(const Domain& domain, const HostNamespace& ns,
                                 const NvdimmRequest* request, std::optional<std::uint64_t> label,
                                 std::optional<int> node_hint, const std::string& context) {
  if (auto supported = RequireKnownArch(domain); !supported) {
    return std::unexpected(WithContext(supported.error(), context));
  }
  PlannedDevice device;
  device.host = ns;
  if (request) device.request = *request;
  device.path = ns.DevicePath();
  auto layout = ComputeLayout(NamespaceGeometry(ns, label.value_or(kMinLabelSize), domain.arch));
  if (!layout) {
    return std::unexpected(
        WithContext(layout.error(), context + ns.dev + " (" + device.path + "): "));
  }
  device.layout = *layout;
  if (node_hint) {
    device.node = *node_hint;
  } else {
    auto node = GuestNode(domain, request, ns, context);
    if (!node) return std::unexpected(node.error());
    device.node = *node;
  }
  return device;
}

Prerequisites ComputePrerequisites(const Domain& domain,
                                   const std::vector<PlannedDevice>& planned) {
  Prerequisites p;
  // Nothing planned, nothing wanted: a domain without host NVDIMMs keeps its
  // definition exactly as it is (issue 10).
  if (planned.empty()) return p;
  std::uint64_t existing_devices = 0;
  for (const MemoryDevice& device : domain.memory_devices) existing_devices += device.target_size;
  // <memory> counts memory devices too (libvirt virDomainDefGetMemoryTotal);
  // with NUMA cells the initial memory is their sum.
  std::uint64_t initial = 0;
  if (!domain.numa_cells.empty()) {
    for (const NumaCell& cell : domain.numa_cells) initial += cell.memory;
  } else {
    initial = domain.memory > existing_devices ? domain.memory - existing_devices : domain.memory;
  }
  std::uint64_t devices_after = 0;
  unsigned device_count = 0;
  for (const MemoryDevice& device : domain.memory_devices) {
    const bool replaced = std::any_of(planned.begin(), planned.end(), [&](const PlannedDevice& d) {
      return d.path == device.source_path;
    });
    if (!replaced) {
      devices_after += device.target_size;
      ++device_count;
    }
  }
  for (const PlannedDevice& device : planned) {
    devices_after += device.layout.target_size;
    ++device_count;
  }
  p.memory = initial + devices_after;
  // A <currentMemory> equal to <memory> means "no balloon": keep it so, or
  // libvirt would start the guest ballooned down by the NVDIMM's size.
  if (!domain.current_memory || *domain.current_memory == domain.memory)
    p.current_memory = p.memory;
  p.max_memory = std::max(domain.max_memory.value_or(0), p.memory);
  // libvirt 9.0 refuses <maxMemory> with 0 slots ("both maximum memory size
  // and memory slot count must be specified", virDomainDefParseMemory).
  p.max_memory_slots = std::max({domain.max_memory_slots, device_count, 1U});
  if (domain.numa_cells.empty()) {
    p.add_numa_cell = NumaCell{0, initial};
    p.add_numa_cell_cpus = domain.vcpus <= 1 ? "0" : "0-" + std::to_string(domain.vcpus - 1);
  }
  // The guest finds NVDIMMs through ACPI NFIT on x86_64 and aarch64; pSeries
  // has no ACPI and uses its own device tree nodes.
  p.add_acpi = !domain.acpi && domain.arch != Arch::kPpc64;
  return p;
}

}  // namespace

Geometry NamespaceGeometry(const HostNamespace& ns, std::uint64_t label_size, Arch arch) {
  const bool aligned_mode = ns.mode == NamespaceMode::kDevdax || ns.mode == NamespaceMode::kFsdax;
  return Geometry{ns.size, ns.mode, aligned_mode ? ns.align : 0, label_size, arch};
}

MemoryDevice PlannedDevice::Device() const {
  MemoryDevice device;
  device.model = "nvdimm";
  // The guest's stores must reach the namespace, never a private COW copy.
  device.access = "shared";
  device.source_path = path;
  device.align_size = layout.align_size;
  device.pmem = layout.pmem;
  device.target_size = layout.target_size;
  device.node = node;
  device.label_size = layout.label_size;
  return device;
}

Result<Plan> MakePlan(const Domain& domain, const HostNamespaces& inventory) {
  Plan plan;
  plan.domain = domain.name;
  plan.arch = domain.arch;
  std::set<std::string> claimed;  // namespace identities already planned
  if (domain.annotation) {
    for (const NvdimmRequest& request : domain.annotation->entries) {
      const std::string context = EntryContext(domain, request);
      auto ns = Resolve(domain, request, inventory);
      if (!ns) return std::unexpected(ns.error());
      if (!claimed.insert((*ns)->dev).second) {
        return Fail(ErrorKind::kInvalidInput,
                    context + "names " + (*ns)->dev + ", which another entry already names");
      }
      auto device = PlanDevice(domain, **ns, &request, request.label_size, std::nullopt, context);
      if (!device) return std::unexpected(device.error());
      plan.devices.push_back(std::move(*device));
    }
  }
  // DESIGN.md §4: an nvdimm backed by a host namespace without an annotation
  // is still guarded: planned with what the device says, so it is checked.
  for (const MemoryDevice& device : domain.memory_devices) {
    if (device.model != "nvdimm") continue;
    const auto ns = std::find_if(inventory.begin(), inventory.end(), [&](const HostNamespace& n) {
      return !n.DevicePath().empty() && n.DevicePath() == device.source_path;
    });
    if (ns == inventory.end() || claimed.contains(ns->dev)) continue;
    claimed.insert(ns->dev);
    const std::string context =
        "domain '" + domain.name + "': <memory model='nvdimm'> " + device.source_path + ": ";
    auto planned =
        PlanDevice(domain, *ns, nullptr, device.label_size, device.node.value_or(0), context);
    if (!planned) return std::unexpected(planned.error());
    plan.devices.push_back(std::move(*planned));
  }
  plan.prerequisites = ComputePrerequisites(domain, plan.devices);
  return plan;
}

std::vector<std::string> DiffAgainstPlan(const Domain& domain, const Plan& plan) {
  std::vector<std::string> out;
  for (const PlannedDevice& planned : plan.devices) {
    const MemoryDevice want = planned.Device();
    const auto have =
        std::find_if(domain.memory_devices.begin(), domain.memory_devices.end(),
                     [&](const MemoryDevice& d) { return d.source_path == want.source_path; });
    const std::string who = "nvdimm " + want.source_path + " (" + planned.host.dev + ")";
    if (have == domain.memory_devices.end()) {
      out.push_back(who + " is missing from the domain");
      continue;
    }
    auto size_or_none = [](const std::optional<std::uint64_t>& v) {
      return v ? FormatSize(*v) : std::string("none");
    };
    if (have->model != want.model) {
      out.push_back(who + ": model is '" + have->model + "', the plan says 'nvdimm'");
    }
    if (have->access != want.access) {
      out.push_back(who + ": access is '" + have->access + "', the plan says 'shared'");
    }
    if (have->target_size != want.target_size) {
      out.push_back(who + ": target size is " + FormatSize(have->target_size) + ", the plan says " +
                    FormatSize(want.target_size));
    }
    if (have->label_size != want.label_size) {
      out.push_back(who + ": label size is " + size_or_none(have->label_size) + ", the plan says " +
                    size_or_none(want.label_size));
    }
    if (have->align_size != want.align_size) {
      out.push_back(who + ": alignsize is " + size_or_none(have->align_size) + ", the plan says " +
                    size_or_none(want.align_size));
    }
    if (have->pmem != want.pmem) {
      out.push_back(who + (want.pmem
                               ? ": <pmem/> is missing"
                               : ": has <pmem/>, but " + planned.host.dev + " is not device DAX"));
    }
    if (have->node != want.node) {
      out.push_back(who + ": guest node is " +
                    (have->node ? std::to_string(*have->node) : std::string("none")) +
                    ", the plan says " + std::to_string(planned.node));
    }
  }
  const Prerequisites& p = plan.prerequisites;
  if (domain.max_memory_slots < p.max_memory_slots) {
    out.push_back("<maxMemory> has " + std::to_string(domain.max_memory_slots) +
                  " slots, the plan needs " + std::to_string(p.max_memory_slots));
  }
  if (domain.max_memory.value_or(0) < p.max_memory) {
    out.push_back("<maxMemory> is " +
                  (domain.max_memory ? FormatSize(*domain.max_memory) : std::string("absent")) +
                  ", the plan needs " + FormatSize(p.max_memory));
  }
  if (p.add_numa_cell) out.push_back("the domain has no NUMA cell (<cpu><numa>)");
  if (p.add_acpi) out.push_back("<features><acpi/> is missing");
  return out;
}

}  // namespace nvh
