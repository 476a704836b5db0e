#include "core/peer_formulas.h"

#include <algorithm>

// Sources read for every step below (the `search` tool's copies; facts and
// numbers only, no code taken):
//
// oVirt
//  [E1] oVirt/ovirt-engine backend/manager/modules/vdsbroker/src/main/java/org/
//       ovirt/engine/core/vdsbroker/builder/vminfo/VmInfoBuildUtils.java,
//       getNvdimmAlignedSize() and NVDIMM_LABEL_SIZE, commit 0272632e89f6.
//  [E2] same directory, LibvirtVmXmlBuilder.java, writeNvdimmHostDevice(),
//       commit f8379071ae0e: access='shared', alignsize, <pmem/> always (added
//       by engine commit c2c805a2, bugzilla 1894053), label 128 KiB, node from
//       getMatchingNumaNode(); a null node ("No NUMA node, cannot add NVDIMM
//       devices") or a null size ("Invalid alignment") leaves the device out.
//  [E3] backend/manager/modules/common/src/main/java/org/ovirt/engine/core/
//       common/businessentities/ArchitectureType.java,
//       getHotplugMemorySizeFactorMb(): x86 family 128, ppc family 256; the
//       enum has x86_64, ppc64, ppc64le, ppcle, s390x and no aarch64 (the
//       stored copy; its commit is not listed).
//  [V1] oVirt/vdsm lib/vdsm/common/hostdev.py, the nvdimm listing
//       (`ndctl list --namespaces -v`), commit 13c8f4c34049: device_size =
//       ndctl "size" (the usable size), align_size only `if 'align' in
//       device`, which ndctl prints for fsdax and devdax only.
// Nova
//  [N1] openstack/nova nova/virt/libvirt/config.py, LibvirtConfigGuestVPMEM,
//       commit 45a4110d20a5: model nvdimm, access 'shared', alignsize =
//       align_kb, <pmem/> always, target size = size_kb, node 0, label
//       2 * units.Ki KiB = 2 MiB.
//  [N2] nova/privsep/libvirt.py get_pmem_namespaces(), read (stored version
//       4ac57750ae8f): `ndctl list -X`, the namespaces with a dax region;
//       Nova's vPMEM admin guide: "only uses PMEM namespaces in devdax mode".
//       nova/virt/libvirt/driver.py LibvirtDriver._guest_add_vpmems (sets
//       <maxMemory slots> to the number of vPMEMs, one LibvirtConfigGuestVPMEM
//       per namespace with the namespace's size and its dax region's align):
//       the stored driver.py copies predate vPMEM (Train, 20.0.0), so this
//       step is from FACTS.md, not re-read.

namespace nvh {
namespace {

std::uint64_t AlignDown(std::uint64_t value, std::uint64_t align) {
  return value - value % align;
}

// [E1] NVDIMM_LABEL_SIZE.
constexpr std::uint64_t kOvirtLabel = 128 * KiB;
// [N1] label_size = 2 * units.Ki (KiB).
constexpr std::uint64_t kNovaLabel = 2 * MiB;

// What runs once libvirt has rounded the peer's target, and which rules of
// sizing.cc that breaks. Where libvirt refuses the target (ppc64 below
// 256 MiB + L) the written target is checked, so the message has its number.
void Judge(PeerLayout& p, const Geometry& geometry) {
  const Layout& w = p.written;
  p.libvirt_target_size = LibvirtAdjustedTargetSize(geometry.arch, w.target_size, w.label_size);
  const std::uint64_t runs = p.libvirt_target_size ? p.libvirt_target_size : w.target_size;
  p.guest_size = QemuGuestSize(p.libvirt_target_size, w.label_size, w.align_size);
  Layout running = w;
  running.target_size = runs;
  running.guest_size = QemuGuestSize(runs, w.label_size, w.align_size);
  p.broken = CheckLayout(geometry, running);
  if (!p.hotplug) {
    // No DIMM can be plugged after the device: the hot-plug block is moot.
    std::erase_if(p.broken,
                  [](const Violation& v) { return v.constraint == Constraint::kHotplugBlock; });
  }
}

PeerLayout Unsupported(Peer peer, std::string reason) {
  PeerLayout p;
  p.peer = peer;
  p.reason = std::move(reason);
  return p;
}

}  // namespace

std::string_view PeerName(Peer peer) {
  return peer == Peer::kOvirt ? "ovirt" : "nova";
}

PeerLayout OvirtLayout(const Geometry& geometry, const PeerGuest& guest) {
  // [E3] oVirt has cluster architectures x86 and ppc only.
  if (geometry.arch == Arch::kAarch64) {
    return Unsupported(Peer::kOvirt, "oVirt has no aarch64 cluster architecture");
  }
  // [E2] getMatchingNumaNode() returns no node without guest NUMA nodes.
  if (!guest.has_numa) {
    return Unsupported(Peer::kOvirt,
                       "oVirt refuses an NVDIMM in a guest without NUMA nodes "
                       "(\"No NUMA node, cannot add NVDIMM devices\")");
  }
  // [E1] hotplugAlignment = getHotplugMemorySizeFactorMb() MiB ([E3]).
  const std::uint64_t hotplug = geometry.arch == Arch::kPpc64 ? 256 * MiB : 128 * MiB;
  // [E1] nvdimmAlignment = the reported align_size, else hotplugAlignment;
  // [V1] vdsm reports align only for modes ndctl prints it for.
  const std::uint64_t align = geometry.device_align ? geometry.device_align : hotplug;
  // [E1] "an initial alignment down here to be safe".
  std::uint64_t size = AlignDown(geometry.backing_size, hotplug);
  // [E1] ppc: libvirt subtracts the label before aligning, so add it.
  if (geometry.arch == Arch::kPpc64) size += kOvirtLabel;
  // [E1] QEMU's guest size for this target, then the hot-plug trim.
  const std::uint64_t qemu_size = size >= kOvirtLabel ? AlignDown(size - kOvirtLabel, align) : 0;
  if (hotplug % align == 0) {
    size -= qemu_size % hotplug;
  } else if (align % hotplug != 0) {
    // [E1] returns null ("alignment not a power of 2"); [E2] device left out.
    return Unsupported(Peer::kOvirt, "oVirt refuses alignment " + std::to_string(align) +
                                         ": neither it nor the " + std::to_string(hotplug) +
                                         "-byte hot-plug factor divides the other");
  }
  PeerLayout p;
  p.peer = Peer::kOvirt;
  p.supported = true;
  p.written.target_size = size;
  p.written.label_size = kOvirtLabel;
  p.written.align_size = align;  // [E2] the same align, else the factor
  p.written.pmem = true;         // [E2] always, since c2c805a2
  p.access_shared = true;        // [E2]
  p.node = guest.node;           // [E2] getMatchingNumaNode(numatune, …)
  p.hotplug = true;              // oVirt keeps memory hot plug: that is why it trims
  Judge(p, geometry);
  p.written.guest_size = p.guest_size;
  return p;
}

PeerLayout NovaLayout(const Geometry& geometry, const PeerGuest& guest) {
  // [N2] vPMEM uses devdax namespaces only.
  if (geometry.mode != NamespaceMode::kDevdax) {
    return Unsupported(Peer::kNova, "Nova's vPMEM uses devdax namespaces only, not " +
                                        std::string(ModeName(geometry.mode)));
  }
  PeerLayout p;
  p.peer = Peer::kNova;
  p.supported = true;
  p.written.target_size = geometry.backing_size;  // [N2] the namespace size as is
  p.written.label_size = kNovaLabel;              // [N1]
  p.written.align_size = geometry.device_align;   // [N2] the dax region's align
  p.written.pmem = true;                          // [N1]
  p.access_shared = true;                         // [N1]
  p.node = 0;                                     // [N1] target_node = 0
  p.max_memory_slots = guest.nvdimms;             // [N2] slots = number of vPMEMs
  p.hotplug = false;  // every slot holds a vPMEM: no DIMM is ever plugged after it
  Judge(p, geometry);
  p.written.guest_size = p.guest_size;
  return p;
}

PeerLayout PeerLayoutFor(Peer peer, const Geometry& geometry, const PeerGuest& guest) {
  return peer == Peer::kOvirt ? OvirtLayout(geometry, guest) : NovaLayout(geometry, guest);
}

}  // namespace nvh
