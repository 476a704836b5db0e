#include "core/peer_formulas.h"

// Rules as DESIGN.md §3 states them (oVirt engine's NVDIMM sizing, OpenStack
// Nova's vpmem driver). The guest size each gets is what QEMU makes of its
// numbers (QemuGuestSize), not what the peer believed.

namespace nvh {
namespace {

// What actually runs: libvirt's rounding applied to the peer's target.
Layout Finish(Layout layout, const Geometry& geometry) {
  layout.target_size =
      LibvirtAdjustedTargetSize(geometry.arch, layout.target_size, layout.label_size);
  layout.pmem = geometry.mode == NamespaceMode::kDevdax;
  layout.guest_size = QemuGuestSize(layout.target_size, layout.label_size, layout.align_size);
  return layout;
}

}  // namespace

Layout OvirtLayout(const Geometry& geometry) {
  constexpr std::uint64_t kBlock = 128 * MiB;
  Layout layout;
  layout.label_size = kMinLabelSize;
  layout.align_size = geometry.device_align ? geometry.device_align : PageGranule(geometry.arch);
  if (geometry.arch == Arch::kPpc64) {
    constexpr std::uint64_t kPpcBlock = 256 * MiB;
    layout.target_size =
        geometry.backing_size - geometry.backing_size % kPpcBlock + layout.label_size;
    return Finish(layout, geometry);
  }
  const std::uint64_t aligned = geometry.backing_size - geometry.backing_size % kBlock;
  // The guest area alignDown(aligned - L, 128M) is one block short of
  // `aligned`; the target keeps just that area plus the label.
  layout.target_size = aligned >= kBlock ? aligned - kBlock + layout.label_size : 0;
  return Finish(layout, geometry);
}

Layout NovaLayout(const Geometry& geometry) {
  Layout layout;
  layout.label_size = 2 * MiB;
  layout.align_size = PageGranule(geometry.arch);  // no align= given
  layout.target_size = geometry.backing_size;
  return Finish(layout, geometry);
}

}  // namespace nvh
