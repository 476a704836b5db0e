// How two other projects size the same NVDIMM, step by step as their code
// does it (DESIGN.md §3 "Peers to beat"), so `nvdimmctl plan --compare`, the
// tests and the sizing benchmark compare on equal geometries. Computed, never
// used to plan anything. Each step in peer_formulas.cc names the repository,
// file, function and commit it follows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/sizing.h"

namespace nvh {

enum class Peer { kOvirt, kNova };

std::string_view PeerName(Peer peer);  // "ovirt", "nova"

// The facts about the guest a peer's decision depends on besides the
// namespace geometry.
struct PeerGuest {
  bool has_numa = true;  // at least one guest NUMA cell (oVirt refuses without)
  int node = 0;          // the guest node oVirt derives from <numatune>
  unsigned nvdimms = 1;  // devices of this guest (Nova: <maxMemory slots>)
};

struct PeerLayout {
  Peer peer = Peer::kOvirt;
  // False where the peer does not handle the mode or architecture, or refuses
  // the device; `reason` then says which, and nothing below is meaningful.
  bool supported = false;
  std::string reason;
  // What the peer writes into the domain XML.
  Layout written;                            // target, label, alignsize, pmem
  bool access_shared = false;                // <memory access='shared'>
  int node = 0;                              // <target><node>
  std::optional<unsigned> max_memory_slots;  // <maxMemory slots> the peer sets
  bool hotplug = true;                       // whether DIMM hot plug stays possible
  // What runs: the written target after libvirt's own rounding
  // (LibvirtAdjustedTargetSize; 0 where libvirt refuses it) and the guest size
  // QEMU derives from it, alignDown(S' - L, A), even where QEMU would refuse.
  std::uint64_t libvirt_target_size = 0;
  std::uint64_t guest_size = 0;
  // Every rule of sizing.cc the running layout breaks (CheckLayout), without
  // the hot-plug rule where the peer leaves no hot plug. Empty: valid.
  std::vector<Violation> broken;

  bool Valid() const { return supported && broken.empty(); }
};

// oVirt engine: VmInfoBuildUtils.getNvdimmAlignedSize + LibvirtVmXmlBuilder.
PeerLayout OvirtLayout(const Geometry& geometry, const PeerGuest& guest = {});

// OpenStack Nova: LibvirtDriver._guest_add_vpmems + LibvirtConfigGuestVPMEM.
PeerLayout NovaLayout(const Geometry& geometry, const PeerGuest& guest = {});

PeerLayout PeerLayoutFor(Peer peer, const Geometry& geometry, const PeerGuest& guest = {});

}  // namespace nvh
