// Pure arithmetic: namespace geometry + architecture -> the one libvirt nvdimm
// geometry that every later layer (libvirt's rounding, QEMU's checks, device
// DAX's mmap rules, guest memory hot plug) leaves exactly as planned.
// No I/O; see DESIGN.md §3 and the comments in sizing.cc for where each rule
// comes from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/arch.h"
#include "core/host_namespace.h"
#include "util/error.h"

namespace nvh {

inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
inline constexpr std::uint64_t GiB = 1024 * MiB;

// QEMU's MIN_NAMESPACE_LABEL_SIZE (hw/mem/nvdimm.c); also our default.
inline constexpr std::uint64_t kMinLabelSize = 128 * KiB;

struct Geometry {
  std::uint64_t backing_size = 0;  // D: what QEMU reads as the backing size
  NamespaceMode mode = NamespaceMode::kRaw;
  std::uint64_t device_align = 0;            // Adev: ndctl align (fsdax/devdax), else 0
  std::uint64_t label_size = kMinLabelSize;  // L requested (a lower bound)
  Arch arch = Arch::kX86_64;
  // H: the guest kernel's memory block, which DIMMs hot-plugged after the
  // NVDIMM must stay aligned to (core/memory_block.h derives it per domain).
  // 0: the architecture's default (HotplugBlockSize); kNoHotplug: the guest
  // never hot-plugs memory, so only QEMU's and libvirt's own steps apply.
  std::uint64_t hotplug_block = 0;
};

// hotplug-block="none": no DIMM will follow the NVDIMM, so the guest area
// need only be a multiple of 2 MiB, the huge page the guest maps it with
// (the alignsize floor the planner uses anyway).
inline constexpr std::uint64_t kNoHotplug = 2 * MiB;

struct Layout {
  std::uint64_t target_size = 0;  // S: <target><size>, label included
  std::uint64_t label_size = 0;   // L: <target><label><size>
  std::uint64_t align_size = 0;   // A: <source><alignsize>
  std::uint64_t guest_size = 0;   // G: what the guest sees, alignDown(S-L, A)
  bool pmem = false;              // <source><pmem/>: only for DAX backing

  bool operator==(const Layout&) const = default;
};

// The host page granule target and label sizes keep: 4 KiB on x86_64; 64 KiB
// on aarch64 and ppc64, whose hosts may run 64 KiB pages. QEMU rounds a
// backend up to the host page (qemu_ram_alloc_from_fd), which would move the
// label, and uses the page as the default alignment.
std::uint64_t PageGranule(Arch arch);

// The memory block of a small guest of this architecture with the default
// page size (H in DESIGN.md §3): x86_64 128 MiB, aarch64 128 MiB, ppc64
// 256 MiB. core/memory_block.h refines it per domain.
std::uint64_t HotplugBlockSize(Arch arch);

// The H a geometry plans with: its hotplug_block, or the architecture's default.
std::uint64_t EffectiveHotplugBlock(const Geometry& geometry);

// The label ComputeLayout uses for a requested label: rounded up to the page
// granule, and on ppc64 devdax to what keeps both S and S - L valid. Equal to
// geometry.label_size unless the request had to grow (the planner warns).
std::uint64_t PlannedLabelSize(const Geometry& geometry);

// Why PlannedLabelSize grew the request, for the planner's warning.
std::string LabelRoundingReason(const Geometry& geometry);

// The layout with the largest guest size, then the smallest target size, or
// kUnsatisfiable naming the constraint and the numbers.
Result<Layout> ComputeLayout(const Geometry& geometry);

// The rules a layout must follow; each names the code it mirrors in sizing.cc.
enum class Constraint {
  kLabelMinimum,       // L >= 128 KiB and >= the requested label
  kLabelGranule,       // L a multiple of the host page granule
  kAlignPowerOfTwo,    // A a power of two, at least the page granule
  kDaxMapAlign,        // devdax: A a multiple of the device alignment
  kDaxMapLength,       // devdax: S a multiple of the device alignment
  kFitsBacking,        // S <= D
  kLibvirtRounding,    // libvirt leaves S as it is (x86/aarch64 2 MiB, ppc64 256 MiB + L)
  kPpc64Label,         // ppc64: label mandatory, S >= 256 MiB + L
  kGuestAreaNonEmpty,  // alignDown(S - L, A) > 0
  kHotplugBlock,       // G a multiple of the guest's memory block size
  kGuestSizeMatches,   // the layout's G is what QEMU computes
  kPmemOnlyForDax,     // <pmem/> exactly for device DAX
};

struct Violation {
  Constraint constraint;
  std::string message;  // one sentence with the numbers
};

// Every constraint a layout must meet on this geometry. Empty means libvirt
// and QEMU keep it exactly as it is. Used by the planner's self-check, the
// tests and the peer comparison.
std::vector<Violation> CheckLayout(const Geometry& geometry, const Layout& layout);

// CheckLayout(...).empty(), without building any message.
bool IsValidLayout(const Geometry& geometry, const Layout& layout);

// The short name of a constraint for reports ("fits-backing", …).
std::string_view ConstraintName(Constraint constraint);

// The target size libvirt hands QEMU for a target written as S with label L
// (qemuDomainMemoryDeviceAlignSize): x86_64/aarch64 alignUp(S, 2 MiB); ppc64
// alignDown(S - L, 256 MiB) + L, or 0 where libvirt refuses the device.
std::uint64_t LibvirtAdjustedTargetSize(Arch arch, std::uint64_t target_size,
                                        std::uint64_t label_size);

// What QEMU makes of a target/label/align: alignDown(S - L, A), or 0 when QEMU
// would refuse the device (hw/mem/nvdimm.c nvdimm_prepare_memory_region).
std::uint64_t QemuGuestSize(std::uint64_t target_size, std::uint64_t label_size,
                            std::uint64_t align_size);

}  // namespace nvh
