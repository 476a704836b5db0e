#include "core/peer_comparison.h"

#include "util/bytes.h"

namespace nvh {
namespace {

constexpr Peer kPeers[] = {Peer::kOvirt, Peer::kNova};

std::string DisplayName(Peer peer) {
  return peer == Peer::kOvirt ? "oVirt" : "Nova";
}

}  // namespace

std::vector<PeerLayout> ComparePeers(const Domain& domain, const Plan& plan,
                                     const PlannedDevice& device) {
  PeerGuest guest;
  guest.has_numa = !domain.numa_cells.empty();
  // oVirt's getMatchingNumaNode(numatune, guest nodes, host node) was not
  // read; we assume it picks the guest node as our planner's default does
  // (the <numatune> memnode holding the namespace's host node).
  guest.node = device.node;
  guest.nvdimms = static_cast<unsigned>(plan.devices.size());
  const Geometry geometry = NamespaceGeometry(device.host, kMinLabelSize, plan.arch);
  std::vector<PeerLayout> out;
  for (Peer peer : kPeers) out.push_back(PeerLayoutFor(peer, geometry, guest));
  return out;
}

nlohmann::ordered_json PeerLayoutToJson(const PeerLayout& p) {
  nlohmann::ordered_json out;
  out["supported"] = p.supported;
  if (!p.supported) {
    out["reason"] = p.reason;
    return out;
  }
  out["target_size"] = p.written.target_size;
  out["libvirt_target_size"] = p.libvirt_target_size;
  out["label_size"] = p.written.label_size;
  out["align_size"] = p.written.align_size;
  out["guest_size"] = p.guest_size;
  out["pmem"] = p.written.pmem;
  out["access"] = p.access_shared ? "shared" : "private";
  out["node"] = p.node;
  if (p.max_memory_slots) out["max_memory_slots"] = *p.max_memory_slots;
  out["hotplug"] = p.hotplug;
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  nlohmann::ordered_json sentences = nlohmann::ordered_json::array();
  for (const Violation& v : p.broken) {
    names.push_back(std::string(ConstraintName(v.constraint)));
    sentences.push_back(v.message);
  }
  out["broken_rules"] = names;
  out["broken"] = sentences;
  return out;
}

void AddPeersToPlanJson(nlohmann::ordered_json& plan_json, const Domain& domain, const Plan& plan) {
  auto& devices = plan_json["devices"];
  for (std::size_t i = 0; i < plan.devices.size() && i < devices.size(); ++i) {
    nlohmann::ordered_json peers;
    for (const PeerLayout& p : ComparePeers(domain, plan, plan.devices[i])) {
      peers[std::string(PeerName(p.peer))] = PeerLayoutToJson(p);
    }
    devices[i]["peers"] = peers;
  }
}

std::vector<std::string> DescribePeers(const Domain& domain, const Plan& plan,
                                       const PlannedDevice& device) {
  std::vector<std::string> lines;
  for (const PeerLayout& p : ComparePeers(domain, plan, device)) {
    const std::string name = DisplayName(p.peer);
    if (!p.supported) {
      lines.push_back(name + ": not supported: " + p.reason);
      continue;
    }
    const Layout& w = p.written;
    lines.push_back(
        name + " would write: target " + FormatSize(w.target_size) + "  label " +
        FormatSize(w.label_size) + "  alignsize " + FormatSize(w.align_size) +
        (w.pmem ? "  pmem" : "") + "  node " + std::to_string(p.node) +
        (p.max_memory_slots
             ? "  maxMemory slots " + std::to_string(*p.max_memory_slots) + " (no DIMM hot plug)"
             : ""));
    std::string outcome =
        "  libvirt target " +
        (p.libvirt_target_size ? FormatSize(p.libvirt_target_size) : std::string("refused")) +
        ", guest " + FormatSize(p.guest_size) + " (ours " + FormatSize(device.layout.guest_size) +
        ")";
    outcome += p.broken.empty() ? "; valid" : "; breaks:";
    lines.push_back(outcome);
    for (const Violation& v : p.broken) {
      lines.push_back("    " + std::string(ConstraintName(v.constraint)) + ": " + v.message);
    }
  }
  return lines;
}

}  // namespace nvh
