// `nvdimmctl plan --compare`: for each planned device, what oVirt and Nova
// would write for the same namespace in this domain and what that would do on
// this host (peer_formulas.h), as JSON and as text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/peer_formulas.h"
#include "core/plan.h"

namespace nvh {

// Both peers' layouts for one planned device of `plan`, made from `domain`.
std::vector<PeerLayout> ComparePeers(const Domain& domain, const Plan& plan,
                                     const PlannedDevice& device);

// {"supported":…, "reason" (unsupported only) | "target_size", "libvirt_target_size",
//  "label_size", "align_size", "guest_size", "pmem", "access", "node",
//  "max_memory_slots" (Nova), "hotplug", "broken_rules":[names],
//  "broken":[sentences]}
nlohmann::ordered_json PeerLayoutToJson(const PeerLayout& peer);

// Adds "peers": {"ovirt": …, "nova": …} to every device of PlanToJson(plan).
void AddPeersToPlanJson(nlohmann::ordered_json& plan_json, const Domain& domain, const Plan& plan);

// Indented lines for the text plan, per peer: what it writes, what libvirt
// and QEMU make of it, against ours, and which rules break.
std::vector<std::string> DescribePeers(const Domain& domain, const Plan& plan,
                                       const PlannedDevice& device);

}  // namespace nvh
