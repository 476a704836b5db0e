// Pure arithmetic: namespace geometry + architecture -> the one libvirt nvdimm
// geometry that every later layer (libvirt's rounding, QEMU's checks, device
// DAX's mmap rules, guest memory hot plug) leaves exactly as planned.
// No I/O; see DESIGN.md §3 and the comments in sizing.cc for where each rule
// comes from.
#pragma once

#include <cstdint>
#include <string>
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
  std::uint64_t device_align = 0;  // Adev: ndctl align (fsdax/devdax), else 0
  std::uint64_t label_size = kMinLabelSize;  // L requested (a lower bound)
  Arch arch = Arch::kX86_64;
};

struct Layout {
  std::uint64_t target_size = 0;  // S: <target><size>, label included
  std::uint64_t label_size = 0;   // L: <target><label><size>
  std::uint64_t align_size = 0;   // A: <source><alignsize>
  std::uint64_t guest_size = 0;   // G: what the guest sees, alignDown(S-L, A)
  bool pmem = false;              // <source><pmem/>: only for DAX backing

  bool operator==(const Layout&) const = default;
};

// Memory block size of guest memory hot plug (H in DESIGN.md §3).
std::uint64_t HotplugBlockSize(Arch arch);

// The layout with the largest guest size, then the smallest target size, or
// kUnsatisfiable naming the constraint and the numbers.
Result<Layout> ComputeLayout(const Geometry& geometry);

// Every constraint a layout must meet on this geometry, each violation as one
// sentence. Empty means libvirt and QEMU keep it exactly as it is. Used by the
// planner's self-check, the tests and the peer comparison.
std::vector<std::string> CheckLayout(const Geometry& geometry, const Layout& layout);

// What QEMU makes of a target/label/align: alignDown(S - L, A), or 0 when QEMU
// would refuse the device (hw/mem/nvdimm.c nvdimm_prepare_memory_region).
std::uint64_t QemuGuestSize(std::uint64_t target_size, std::uint64_t label_size,
                            std::uint64_t align_size);

}  // namespace nvh
