#include "core/plan_json.h"

#include "core/sizing.h"

namespace nvh {
namespace {

nlohmann::ordered_json LayoutJson(const Layout& l) {
  return {{"target_size", l.target_size},
          {"label_size", l.label_size},
          {"align_size", l.align_size},
          {"guest_size", l.guest_size}};
}

// "kept": the device's existing layout is kept as it is; "existing": that
// layout, where it came from and why it cannot work (if it cannot);
// "optimal": the computed layout; "gives_up": what keeping costs.
void AddAdoption(const Plan& plan, const PlannedDevice& d, nlohmann::ordered_json& out) {
  out["kept"] = d.kept;
  if (d.existing) {
    nlohmann::ordered_json existing = LayoutJson(d.existing->existing);
    existing["source"] = d.existing->source == LayoutSource::kRecord ? "record" : "definition";
    nlohmann::ordered_json refusals = nlohmann::ordered_json::array();
    for (const Violation& v : d.existing->refusals) {
      refusals.push_back({{"rule", std::string(ConstraintName(v.constraint))}, {"why", v.message}});
    }
    existing["refusals"] = refusals;
    out["existing"] = existing;
    nlohmann::ordered_json gives_up = nlohmann::ordered_json::array();
    const Geometry geometry = NamespaceGeometry(d.host, kMinLabelSize, plan.arch);
    for (const Violation& v : d.existing->losses) gives_up.push_back(DescribeLoss(geometry, v));
    out["gives_up"] = gives_up;
  }
  out["optimal"] = d.optimal ? LayoutJson(*d.optimal) : nlohmann::ordered_json(nullptr);
  if (!d.pending.empty()) out["pending"] = d.pending;
}

}  // namespace

nlohmann::ordered_json PlanToJson(const Plan& plan) {
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const PlannedDevice& d : plan.devices) {
    devices.push_back({{"namespace", d.host.dev},
                       {"uuid", d.host.uuid},
                       {"mode", std::string(ModeName(d.host.mode))},
                       {"path", d.path},
                       {"device_size", d.host.size},
                       {"device_align", d.host.align},
                       {"target_size", d.layout.target_size},
                       {"label_size", d.layout.label_size},
                       {"align_size", d.layout.align_size},
                       {"guest_size", d.layout.guest_size},
                       {"node", d.node},
                       {"pmem", d.layout.pmem},
                       // libvirt adds prealloc=on to every memory backend without pmem=on.
                       {"prealloc", !d.layout.pmem},
                       {"annotated", d.request.has_value()}});
    AddAdoption(plan, d, devices.back());
  }
  nlohmann::ordered_json warnings = plan.warnings;
  return {{"domain", plan.domain},
          {"arch", std::string(ArchName(plan.arch))},
          {"memory_block", plan.memory_block.bytes},
          {"memory_block_reason", plan.memory_block.reason},
          {"devices", devices},
          {"warnings", warnings}};
}

nlohmann::ordered_json NamespaceToJson(const HostNamespace& ns, Arch arch) {
  nlohmann::ordered_json out;
  out["dev"] = ns.dev;
  out["mode"] = std::string(ModeName(ns.mode));
  if (!ns.map.empty()) out["map"] = ns.map;
  out["size"] = ns.size;
  if (!ns.uuid.empty()) out["uuid"] = ns.uuid;
  if (!ns.raw_uuid.empty()) out["raw_uuid"] = ns.raw_uuid;
  if (ns.align != 0) out["align"] = ns.align;
  if (!ns.blockdev.empty()) out["blockdev"] = ns.blockdev;
  if (!ns.chardev.empty()) out["chardev"] = ns.chardev;
  if (!ns.name.empty()) out["name"] = ns.name;
  out["numa_node"] = ns.numa_node;
  if (!ns.enabled) out["state"] = "disabled";
  out["path"] = ns.DevicePath();
  out["dax"] = ns.IsDax();
  // A block device handed to QEMU is mapped through the host page cache:
  // stores persist only when the host writes the pages back.
  out["persistence"] = ns.IsDax() ? "dax" : "page-cache writeback";
  auto layout = ComputeLayout(NamespaceGeometry(ns, kMinLabelSize, arch));
  out["guest_arch"] = std::string(ArchName(arch));
  out["guest_size"] = layout ? nlohmann::ordered_json(layout->guest_size) : nullptr;
  out["target_size"] = layout ? nlohmann::ordered_json(layout->target_size) : nullptr;
  return out;
}

}  // namespace nvh
