#include "core/sizing.h"

#include <bit>
#include <numeric>

#include "util/bytes.h"

// Where each number comes from (libvirt 9.0, QEMU 7.2, Linux 6.1):
//
//  * libvirt, x86_64/aarch64: qemuDomainMemoryDeviceAlignSize()
//    (src/qemu/qemu_domain.c) rounds every memory device's size UP to
//    qemuDomainGetMemoryModuleSizeAlignment() = 2 MiB at each fresh start,
//    after the `prepare` hook (seen in the libvirt tests). A target that is not already
//    a 2 MiB multiple grows, past the end of the namespace if it is full.
//  * libvirt, ppc64: qemuDomainNVDimmAlignSizePseries() replaces S by
//    alignDown(S - L, 256 MiB) + L and refuses S < 256 MiB + L.
//  * QEMU: nvdimm_prepare_memory_region() (hw/mem/nvdimm.c) puts the label in
//    the last L bytes of the backend and gives the guest
//    alignDown(S - L, A), A being the backend's alignment; it refuses an empty
//    guest area. nvdimm_set_label_size() refuses L < 128 KiB
//    (MIN_NAMESPACE_LABEL_SIZE).
//  * QEMU: qemu_ram_alloc_from_fd() (softmmu/physmem.c) refuses a backing
//    store smaller than S ("backing store size … does not match 'size'
//    option"), and file_ram_alloc() refuses an `align` that is not a power of
//    two or not a multiple of the page size. It also rounds S up to the host
//    page size, which would move the label: S stays page aligned.
//  * QEMU, ppc64: spapr_nvdimm_validate() (hw/ppc/spapr_nvdimm.c) demands a
//    label and (S - L) % SPAPR_MINIMUM_SCM_BLOCK_SIZE (256 MiB) == 0.
//  * Linux device DAX: check_vma() (drivers/dax/device.c) refuses a mapping
//    whose start or end is not aligned to the device alignment, so QEMU's
//    mapping of S bytes at an A-aligned address needs S % Adev == 0 and
//    A % Adev == 0.
//  * Guest memory hot plug: DIMMs plugged after the NVDIMM are placed after
//    it, so the NVDIMM's guest area must be a whole number of the guest
//    kernel's memory blocks (DESIGN.md §3; derived per domain in
//    core/memory_block.cc: x86_64 128 MiB up to 2 GiB, aarch64 128 MiB,
//    ppc64 256 MiB, or what the annotation says).

namespace nvh {
namespace {

constexpr std::uint64_t kLibvirtModuleAlign = 2 * MiB;  // every arch but ppc64
constexpr std::uint64_t kPpc64ScmBlock = 256 * MiB;
// The guest area is aligned at least to 2 MiB so the guest can map it with
// huge pages, whatever the namespace's own alignment.
constexpr std::uint64_t kMinAlignSize = 2 * MiB;

std::uint64_t AlignDown(std::uint64_t value, std::uint64_t align) {
  return value - value % align;
}

std::uint64_t AlignUp(std::uint64_t value, std::uint64_t align) {
  return AlignDown(value + align - 1, align);
}

bool IsDevdax(const Geometry& g) {
  return g.mode == NamespaceMode::kDevdax;
}

std::string Describe(const Geometry& g) {
  return std::string(ModeName(g.mode)) + " namespace of " + FormatSize(g.backing_size) +
         (g.device_align ? ", align " + FormatSize(g.device_align) : "") + " on " +
         std::string(ArchName(g.arch));
}

Result<std::uint64_t> CheckInputs(const Geometry& g) {
  if (g.label_size < kMinLabelSize) {
    return Fail(ErrorKind::kInvalidInput,
                "label size " + FormatSize(g.label_size) + " is below QEMU's minimum of 128 KiB");
  }
  if (g.label_size % (4 * KiB) != 0) {
    return Fail(ErrorKind::kInvalidInput,
                "label size " + FormatSize(g.label_size) + " is not a multiple of 4 KiB");
  }
  if (IsDevdax(g)) {
    if (g.device_align == 0 || !std::has_single_bit(g.device_align)) {
      return Fail(
          ErrorKind::kInvalidInput,
          "device DAX alignment " + std::to_string(g.device_align) + " is not a power of two");
    }
  }
  return PageGranule(g.arch);
}

Result<Layout> Unsatisfiable(const Geometry& g, const std::string& why) {
  return Fail(ErrorKind::kUnsatisfiable, Describe(g) + ": " + why);
}

// x86_64 and aarch64: S must be a multiple of libvirt's 2 MiB (and of the
// devdax alignment); the label is a page-granule multiple.
Result<Layout> ComputeRounded(const Geometry& g) {
  Layout layout;
  layout.pmem = IsDevdax(g);
  layout.label_size = PlannedLabelSize(g);
  layout.align_size = IsDevdax(g) ? std::max(g.device_align, kMinAlignSize) : kMinAlignSize;
  const std::uint64_t target_step =
      IsDevdax(g) ? std::lcm(kLibvirtModuleAlign, g.device_align) : kLibvirtModuleAlign;
  const std::uint64_t guest_step = std::lcm(EffectiveHotplugBlock(g), layout.align_size);
  // Largest S on the step grid is alignDown(D, step); the guest area is the
  // largest guest_step multiple below it once the label is taken. Because
  // target_step <= align_size, S = alignUp(G + L, target_step) stays below
  // G + L + A, so QEMU's alignDown(S - L, A) gives back exactly G.
  const std::uint64_t usable = AlignDown(g.backing_size, target_step);
  if (usable <= layout.label_size || AlignDown(usable - layout.label_size, guest_step) == 0) {
    return Unsatisfiable(g, "no room for a " + FormatSize(guest_step) +
                                "-aligned guest area and a " + FormatSize(layout.label_size) +
                                " label; it needs at least " +
                                FormatSize(AlignUp(guest_step + layout.label_size, target_step)));
  }
  layout.guest_size = AlignDown(usable - layout.label_size, guest_step);
  layout.target_size = AlignUp(layout.guest_size + layout.label_size, target_step);
  return layout;
}

// ppc64: S - L must be a multiple of 256 MiB and, for devdax, S a multiple of
// Adev, so L must be a multiple of gcd(Adev, 256 MiB) = min(Adev, 256 MiB)
// (PlannedLabelSize): a 1 GiB devdax alignment needs a 256 MiB label, not a
// 1 GiB one. S is the first Adev (else granule) multiple at or above G + L:
// with Adev <= 256 MiB that is G + L itself; with Adev = 1 GiB it is
// G + alignUp(L, Adev), the same for every label up to Adev, so the smallest
// label costs the guest nothing. A larger label never gives a smaller S.
Result<Layout> ComputePpc64(const Geometry& g, std::uint64_t granule) {
  Layout layout;
  layout.pmem = IsDevdax(g);
  layout.label_size = PlannedLabelSize(g);
  layout.align_size = IsDevdax(g) ? std::max(g.device_align, kMinAlignSize) : kMinAlignSize;
  const std::uint64_t target_step = IsDevdax(g) ? std::max(granule, g.device_align) : granule;
  const std::uint64_t guest_step =
      std::lcm(std::lcm(kPpc64ScmBlock, EffectiveHotplugBlock(g)), layout.align_size);
  const std::uint64_t usable = AlignDown(g.backing_size, target_step);
  if (usable <= layout.label_size || AlignDown(usable - layout.label_size, guest_step) == 0) {
    return Unsatisfiable(g, "no room for a " + FormatSize(guest_step) + " guest area and a " +
                                FormatSize(layout.label_size) + " label; it needs at least " +
                                FormatSize(AlignUp(guest_step + layout.label_size, target_step)));
  }
  layout.guest_size = AlignDown(usable - layout.label_size, guest_step);
  layout.target_size = AlignUp(layout.guest_size + layout.label_size, target_step);
  return layout;
}

}  // namespace

std::uint64_t PageGranule(Arch arch) {
  return arch == Arch::kX86_64 || arch == Arch::kI686 ? 4 * KiB : 64 * KiB;
}

std::uint64_t HotplugBlockSize(Arch arch) {
  switch (arch) {
    case Arch::kX86_64:
      return 128 * MiB;  // Linux x86_64 MIN_MEMORY_BLOCK_SIZE
    case Arch::kPpc64:
      return 256 * MiB;  // QEMU SPAPR_MEMORY_BLOCK_SIZE
    case Arch::kAarch64:
      // arm64 SECTION_SIZE_BITS 27 with 4K pages since Linux 5.12 (commit
      // f0b13ee23241 "arm64/sparsemem: reduce SECTION_SIZE_BITS"); a Debian
      // 12 guest reports block_size_bytes 0x8000000.
      return 128 * MiB;
    case Arch::kI686:
      // Linux x86_32 with PAE (needed to reach the NVDIMM, which QEMU's pc
      // machine maps above 4 GiB): SECTION_SIZE_BITS 29.
      return 512 * MiB;
  }
  return 128 * MiB;
}

std::uint64_t EffectiveHotplugBlock(const Geometry& geometry) {
  return geometry.hotplug_block != 0 ? geometry.hotplug_block : HotplugBlockSize(geometry.arch);
}

std::uint64_t PlannedLabelSize(const Geometry& geometry) {
  std::uint64_t step = PageGranule(geometry.arch);
  if (geometry.arch == Arch::kPpc64 && IsDevdax(geometry) && geometry.device_align != 0) {
    step = std::lcm(step, std::min(geometry.device_align, kPpc64ScmBlock));
  }
  return AlignUp(std::max(geometry.label_size, kMinLabelSize), step);
}

std::string LabelRoundingReason(const Geometry& geometry) {
  if (geometry.arch == Arch::kPpc64 && IsDevdax(geometry) &&
      geometry.device_align > PageGranule(geometry.arch)) {
    return "ppc64 devdax align " + FormatSize(geometry.device_align) +
           ": S must be a multiple of it and S - L of 256 MiB";
  }
  return "a multiple of the " + FormatSize(PageGranule(geometry.arch)) + " page granule of " +
         std::string(ArchName(geometry.arch)) + " hosts";
}

std::uint64_t LibvirtAdjustedTargetSize(Arch arch, std::uint64_t target_size,
                                        std::uint64_t label_size) {
  if (arch != Arch::kPpc64) return AlignUp(target_size, kLibvirtModuleAlign);
  if (target_size < kPpc64ScmBlock + label_size) return 0;
  return AlignDown(target_size - label_size, kPpc64ScmBlock) + label_size;
}

std::uint64_t QemuGuestSize(std::uint64_t target_size, std::uint64_t label_size,
                            std::uint64_t align_size) {
  if (align_size == 0 || target_size <= label_size) return 0;
  return AlignDown(target_size - label_size, align_size);
}

Result<Layout> ComputeLayout(const Geometry& geometry) {
  auto granule = CheckInputs(geometry);
  if (!granule) return std::unexpected(granule.error());
  Result<Layout> layout =
      geometry.arch == Arch::kPpc64 ? ComputePpc64(geometry, *granule) : ComputeRounded(geometry);
  if (!layout) return layout;
  // The closed forms above are proven in comments and by the brute-force test;
  // this keeps a future edit from shipping a layout that breaks a rule.
  if (auto violations = CheckLayout(geometry, *layout); !violations.empty()) {
    return Fail(ErrorKind::kUnsatisfiable, Describe(geometry) +
                                               ": internal error, planned layout breaks a rule: " +
                                               violations.front().message);
  }
  return layout;
}

namespace {

// The rules, written once. `report(constraint, describe)` is called per broken
// rule; `describe()` builds the sentence only when someone wants it, so the
// brute-force search can ask millions of times cheaply.
template <typename Report>
void VisitViolations(const Geometry& g, const Layout& l, Report&& report) {
  const std::uint64_t granule = PageGranule(g.arch);
  auto S = [&] { return FormatSize(l.target_size); };
  auto L = [&] { return FormatSize(l.label_size); };
  auto A = [&] { return FormatSize(l.align_size); };

  if (l.label_size < kMinLabelSize || l.label_size < g.label_size) {
    report(Constraint::kLabelMinimum, [&] {
      return "label " + L() + " is below " + FormatSize(std::max(kMinLabelSize, g.label_size));
    });
  }
  if (l.label_size % granule != 0) {
    report(Constraint::kLabelGranule, [&] {
      return "label " + L() + " is not a multiple of the " + FormatSize(granule) + " page granule";
    });
  }
  if (!std::has_single_bit(l.align_size) || l.align_size < granule) {
    report(Constraint::kAlignPowerOfTwo, [&] {
      return "alignsize " + A() + " is not a power of two of at least " + FormatSize(granule);
    });
  }
  if (IsDevdax(g) && g.device_align != 0) {
    if (l.align_size % g.device_align != 0) {
      report(Constraint::kDaxMapAlign, [&] {
        return "alignsize " + A() + " is not a multiple of the device alignment " +
               FormatSize(g.device_align);
      });
    }
    if (l.target_size % g.device_align != 0) {
      report(Constraint::kDaxMapLength, [&] {
        return "target size " + S() + " is not a multiple of the device alignment " +
               FormatSize(g.device_align) + ": device DAX refuses the mmap";
      });
    }
  }
  if (l.target_size > g.backing_size) {
    report(Constraint::kFitsBacking, [&] {
      return "target size " + S() + " exceeds the backing size " + FormatSize(g.backing_size);
    });
  }
  if (l.target_size % granule != 0) {
    report(Constraint::kLibvirtRounding, [&] {
      return "target size " + S() + " is not a multiple of the " + FormatSize(granule) +
             " page: QEMU would round it up";
    });
  }
  if (g.arch == Arch::kPpc64) {
    if (l.label_size == 0 || l.target_size < kPpc64ScmBlock + l.label_size) {
      report(Constraint::kPpc64Label, [&] {
        return "target size " + S() + " is below libvirt's ppc64 minimum of 256 MiB plus the label";
      });
    } else if ((l.target_size - l.label_size) % kPpc64ScmBlock != 0) {
      report(Constraint::kLibvirtRounding, [&] {
        return "target size " + S() + " minus label " + L() +
               " is not a multiple of 256 MiB: libvirt would change it to " +
               FormatSize(LibvirtAdjustedTargetSize(g.arch, l.target_size, l.label_size));
      });
    }
  } else if (l.target_size % kLibvirtModuleAlign != 0) {
    report(Constraint::kLibvirtRounding, [&] {
      return "target size " + S() + " is not a multiple of 2 MiB: libvirt would round it up to " +
             FormatSize(LibvirtAdjustedTargetSize(g.arch, l.target_size, l.label_size));
    });
  }
  const std::uint64_t qemu_guest = QemuGuestSize(l.target_size, l.label_size, l.align_size);
  if (qemu_guest == 0) {
    report(Constraint::kGuestAreaNonEmpty, [&] {
      return "target size " + S() + " leaves no " + A() + "-aligned guest area after the label " +
             L();
    });
  } else if (qemu_guest % EffectiveHotplugBlock(g) != 0) {
    report(Constraint::kHotplugBlock, [&] {
      return "guest size " + FormatSize(qemu_guest) + " is not a multiple of the guest's " +
             FormatSize(EffectiveHotplugBlock(g)) + " memory block";
    });
  }
  if (l.guest_size != qemu_guest) {
    report(Constraint::kGuestSizeMatches, [&] {
      return "guest size " + FormatSize(l.guest_size) + " differs from QEMU's " +
             FormatSize(qemu_guest);
    });
  }
  if (l.pmem != IsDevdax(g)) {
    report(Constraint::kPmemOnlyForDax, [&] {
      return std::string(l.pmem ? "<pmem/> claims DAX for a page-cache-backed device"
                                : "<pmem/> missing for a device DAX namespace");
    });
  }
}

}  // namespace

std::vector<Violation> CheckLayout(const Geometry& geometry, const Layout& layout) {
  std::vector<Violation> out;
  VisitViolations(geometry, layout, [&out](Constraint constraint, auto&& describe) {
    out.push_back({constraint, describe()});
  });
  return out;
}

bool IsValidLayout(const Geometry& geometry, const Layout& layout) {
  bool valid = true;
  VisitViolations(geometry, layout, [&valid](Constraint, auto&&) { valid = false; });
  return valid;
}

std::string_view ConstraintName(Constraint constraint) {
  switch (constraint) {
    case Constraint::kLabelMinimum:
      return "label-minimum";
    case Constraint::kLabelGranule:
      return "label-granule";
    case Constraint::kAlignPowerOfTwo:
      return "align-power-of-two";
    case Constraint::kDaxMapAlign:
      return "dax-map-align";
    case Constraint::kDaxMapLength:
      return "dax-map-length";
    case Constraint::kFitsBacking:
      return "fits-backing";
    case Constraint::kLibvirtRounding:
      return "libvirt-rounding";
    case Constraint::kPpc64Label:
      return "ppc64-minimum";
    case Constraint::kGuestAreaNonEmpty:
      return "guest-area-non-empty";
    case Constraint::kHotplugBlock:
      return "hotplug-block";
    case Constraint::kGuestSizeMatches:
      return "guest-size-matches";
    case Constraint::kPmemOnlyForDax:
      return "pmem-only-for-dax";
  }
  return "unknown";
}

}  // namespace nvh
