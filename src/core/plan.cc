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

// The definition's nvdimm device at a host path, if it has one.
const MemoryDevice* NvdimmAt(const Domain& domain, const std::string& path) {
  const auto it = std::find_if(
      domain.memory_devices.begin(), domain.memory_devices.end(),
      [&](const MemoryDevice& d) { return d.model == "nvdimm" && d.source_path == path; });
  return it == domain.memory_devices.end() ? nullptr : &*it;
}

// The layout the namespace already has: the record's (what the guest saw at
// its last start), else that of its device in the definition.
std::optional<Adoption> ExistingLayout(const Domain& domain, const HostNamespace& ns,
                                       const Geometry& geometry, const PlanOptions& options) {
  for (const RecordedLayout& recorded : options.recorded) {
    if (recorded.key == ns.IdentityKey()) {
      return CheckAdoption(geometry, recorded.layout, LayoutSource::kRecord);
    }
  }
  if (const MemoryDevice* device = NvdimmAt(domain, ns.DevicePath())) {
    return CheckAdoption(geometry, LayoutOfDevice(*device, geometry), LayoutSource::kDefinition);
  }
  return std::nullopt;
}

Result<PlannedDevice> PlanDevice(const Domain& domain, const HostNamespace& ns,
                                 const NvdimmRequest* request, std::optional<std::uint64_t> label,
                                 std::optional<int> node_hint, const std::string& context,
                                 const PlanOptions& options, Plan& plan) {
  if (auto supported = RequireKnownArch(domain); !supported) {
    return std::unexpected(WithContext(supported.error(), context));
  }
  PlannedDevice device;
  device.host = ns;
  if (request) device.request = *request;
  device.path = ns.DevicePath();
  // The memory block matters only for a layout we compute: an existing one is
  // kept whatever the domain's memory map (its hot-plug loss is reported).
  std::optional<Error> block_error;
  if (plan.memory_block.bytes == 0) {
    if (auto block = GuestMemoryBlock(domain)) {
      plan.memory_block = *block;
    } else {
      block_error = block.error();
    }
  }
  const Geometry geometry =
      NamespaceGeometry(ns, label.value_or(kMinLabelSize), domain.arch, plan.memory_block.bytes);
  auto optimal =
      block_error ? Result<Layout>(std::unexpected(*block_error)) : ComputeLayout(geometry);
  if (optimal) {
    device.optimal = *optimal;
  } else {
    device.optimal_error = optimal.error().message;
  }
  device.existing = ExistingLayout(domain, ns, geometry, options);
  device.kept = device.existing && device.existing->Usable() && !options.relayout;
  if (device.kept) {
    device.layout = device.existing->existing;
    if (request && request->label_size && *request->label_size != device.layout.label_size) {
      device.pending.push_back("the annotation asks for label=" + FormatSize(*request->label_size) +
                               ", the existing label is " + FormatSize(device.layout.label_size) +
                               ": changing it moves the label (nvdimmctl sync " + domain.name +
                               " --relayout)");
    }
  } else if (!optimal) {
    if (block_error) return std::unexpected(*block_error);
    return std::unexpected(
        WithContext(optimal.error(), context + ns.dev + " (" + device.path + "), memory block " +
                                         FormatSize(plan.memory_block.bytes) + " (" +
                                         plan.memory_block.reason + "): "));
  } else {
    device.layout = *optimal;
    if (label && optimal->label_size != *label) {
      plan.warnings.push_back(context + ns.dev + ": label " + FormatSize(*label) +
                              " rounded up to " + FormatSize(optimal->label_size) + " (" +
                              LabelRoundingReason(geometry) + ")");
    }
  }
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
      return d.IsDeviceAt(device.source_path);
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

Geometry NamespaceGeometry(const HostNamespace& ns, std::uint64_t label_size, Arch arch,
                           std::uint64_t hotplug_block) {
  const bool aligned_mode = ns.mode == NamespaceMode::kDevdax || ns.mode == NamespaceMode::kFsdax;
  return Geometry{ns.size, ns.mode, aligned_mode ? ns.align : 0, label_size, arch, hotplug_block};
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

namespace {

// A namespace whose device node the kernel renumbered (namespace0.4 is
// namespace0.5 after a repartition; regions over 4 GiB renumber at reboot,
// tests/hardware/README.md) is still in the definition under the node the
// layout record has. Found there, that device is the one to update: adding a
// second device would leave the old one behind, pointing at nothing or, after
// the next renumbering, at this namespace again (seen on the emulated real
// host, tests/realhost). Two namespaces of the domain may also trade nodes
// (a swap, or a chain of them): each device then goes with the namespace its
// record names, so the guest keeps every namespace in its slot.
void FindRenumberedDevices(const Domain& domain, const PlanOptions& options,
                           std::vector<PlannedDevice>& devices) {
  auto in_definition = [&](const std::string& path) { return NvdimmAt(domain, path) != nullptr; };
  // The recorded node of each planned namespace whose node changed since,
  // where the definition still has a device. Record keys are unique, and so
  // are the planned namespaces.
  std::vector<std::string> moved_from(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    for (const RecordedLayout& recorded : options.recorded) {
      if (recorded.key == devices[i].host.IdentityKey() && !recorded.path.empty() &&
          recorded.path != devices[i].path && in_definition(recorded.path)) {
        moved_from[i] = recorded.path;
      }
    }
  }
  const auto left_by_another = [&](const std::string& path) {
    return std::find(moved_from.begin(), moved_from.end(), path) != moved_from.end();
  };
  const auto held_by_one_that_stayed = [&](const std::string& path) {
    for (std::size_t j = 0; j < devices.size(); ++j) {
      if (devices[j].path == path) return moved_from[j].empty();
    }
    return false;
  };
  for (std::size_t i = 0; i < devices.size(); ++i) {
    if (moved_from[i].empty()) continue;
    // A device at the namespace's node now is its own, unless another
    // renumbered namespace left it there.
    if (in_definition(devices[i].path) && !left_by_another(devices[i].path)) continue;
    // The recorded node is another planned namespace's now, which did not
    // move: the device there is that namespace's.
    if (held_by_one_that_stayed(moved_from[i])) continue;
    devices[i].previous_path = moved_from[i];
  }
}

// When two namespaces traded device nodes, the device at an unannotated
// namespace's node now is the other's (its record names that node); its own
// device, whose label size and guest node it keeps, is at its recorded node
// (FindRenumberedDevices pairs them the same way).
const MemoryDevice* OwnDeviceAfterSwap(const Domain& domain, const HostNamespace& ns,
                                       const PlanOptions& options) {
  const std::string key = ns.IdentityKey();
  const bool left_by_another = std::any_of(
      options.recorded.begin(), options.recorded.end(),
      [&](const RecordedLayout& r) { return r.key != key && r.path == ns.DevicePath(); });
  if (!left_by_another) return nullptr;
  for (const RecordedLayout& recorded : options.recorded) {
    if (recorded.key != key || recorded.path.empty() || recorded.path == ns.DevicePath()) continue;
    if (const MemoryDevice* device = NvdimmAt(domain, recorded.path)) return device;
  }
  return nullptr;
}

}  // namespace

Result<Plan> MakePlan(const Domain& domain, const HostNamespaces& inventory,
                      const PlanOptions& options) {
  Plan plan;
  plan.domain = domain.name;
  plan.arch = domain.arch;
  // An unknown memory block refuses only a domain that has a device to plan:
  // a domain without NVDIMMs is never blocked (PlanDevice asks again).
  if (auto block = GuestMemoryBlock(domain)) plan.memory_block = *block;
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
      auto device = PlanDevice(domain, **ns, &request, request.label_size, std::nullopt, context,
                               options, plan);
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
    const MemoryDevice* swapped = OwnDeviceAfterSwap(domain, *ns, options);
    const MemoryDevice& own = swapped != nullptr ? *swapped : device;
    auto planned = PlanDevice(domain, *ns, nullptr, own.label_size, own.node.value_or(0), context,
                              options, plan);
    if (!planned) return std::unexpected(planned.error());
    plan.devices.push_back(std::move(*planned));
  }
  FindRenumberedDevices(domain, options, plan.devices);
  plan.prerequisites = ComputePrerequisites(domain, plan.devices);
  return plan;
}

std::vector<std::string> UnkeptLayouts(const Plan& plan) {
  std::vector<std::string> out;
  for (const PlannedDevice& d : plan.devices) {
    if (!d.existing || d.kept || d.existing->Usable()) continue;
    std::string why;
    for (const Violation& v : d.existing->refusals) why += (why.empty() ? "" : "; ") + v.message;
    out.push_back("nvdimm " + d.path + " (" + d.host.dev + "): the layout in " +
                  std::string(LayoutSourceName(d.existing->source)) + " (" +
                  DescribeLayout(d.existing->existing) + ") cannot work on this host: " + why +
                  "; the computed layout would be " + DescribeLayout(d.layout));
  }
  return out;
}

std::vector<std::string> KeptLayoutNotes(const Plan& plan) {
  std::vector<std::string> out;
  for (const PlannedDevice& d : plan.devices) {
    // A kept layout that is the computed one needs no word.
    if (!d.kept || (d.optimal && *d.optimal == d.layout && d.pending.empty())) continue;
    std::string line = "nvdimm " + d.path + " (" + d.host.dev + "): kept: existing layout from " +
                       std::string(LayoutSourceName(d.existing->source)) + " (" +
                       DescribeLayout(d.layout) + ")";
    const Geometry geometry = NamespaceGeometry(d.host, kMinLabelSize, plan.arch);
    std::string losses;
    for (const Violation& loss : d.existing->losses) {
      losses += (losses.empty() ? "" : "; ") + DescribeLoss(geometry, loss);
    }
    if (!losses.empty()) line += "; gives up: " + losses;
    if (!d.optimal) {
      line += "; no computed layout exists (" + d.optimal_error + ")";
    } else if (*d.optimal != d.layout) {
      line += "; the computed layout would be " + DescribeLayout(*d.optimal) + " (nvdimmctl sync " +
              plan.domain + " --relayout moves the data to it)";
    }
    out.push_back(line);
    for (const std::string& pending : d.pending) {
      out.push_back("nvdimm " + d.path + " (" + d.host.dev + "): " + pending);
    }
  }
  return out;
}

std::vector<std::string> DiffAgainstPlan(const Domain& domain, const Plan& plan) {
  std::vector<std::string> out;
  for (const PlannedDevice& planned : plan.devices) {
    const MemoryDevice want = planned.Device();
    const std::string& defined_at = planned.DefinitionPath();
    const auto have =
        std::find_if(domain.memory_devices.begin(), domain.memory_devices.end(),
                     [&](const MemoryDevice& d) { return d.source_path == defined_at; });
    const std::string who = "nvdimm " + want.source_path + " (" + planned.host.dev + ")";
    if (have == domain.memory_devices.end()) {
      out.push_back(who + " is missing from the domain");
      continue;
    }
    if (have->source_path != want.source_path) {
      out.push_back("nvdimm " + have->source_path + ": " + planned.host.dev + " is at " +
                    want.source_path +
                    " now (device node renumbered; same namespace, data "
                    "unaffected): the path must follow");
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
    // A kept layout is what QEMU got: the definition may hold the size
    // libvirt rounds to it at every start.
    const std::uint64_t have_target =
        planned.kept
            ? LibvirtAdjustedTargetSize(plan.arch, have->target_size, have->label_size.value_or(0))
            : have->target_size;
    if (have_target != want.target_size) {
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
