#include "core/adoption.h"

#include "util/bytes.h"

namespace nvh {
namespace {

// Rules whose breach costs the guest something but lets libvirt, QEMU and
// device DAX start it as it always ran:
//  * hot-plug block: DIMMs plugged after the NVDIMM start unaligned (Linux
//    refuses to online them: "Block size [...] unaligned hotplug range");
//  * label granule: QEMU rounds only the backend size up to the host page
//    (qemu_ram_alloc_from_fd), and S is already a 2 MiB multiple here, so an
//    odd label stays where it is.
bool IsLoss(Constraint constraint) {
  return constraint == Constraint::kHotplugBlock || constraint == Constraint::kLabelGranule;
}

}  // namespace

std::string_view LayoutSourceName(LayoutSource source) {
  return source == LayoutSource::kRecord ? "the layout record of its last start" : "the definition";
}

Layout LayoutOfDevice(const MemoryDevice& device, const Geometry& geometry) {
  Layout layout;
  layout.label_size = device.label_size.value_or(0);
  layout.target_size =
      LibvirtAdjustedTargetSize(geometry.arch, device.target_size, layout.label_size);
  // Without <alignsize> QEMU aligns the backend to the page of the backing
  // file (file_ram_alloc: MAX(page_size, align)); nvdimm_prepare_memory_region
  // then takes that alignment for the guest area.
  layout.align_size = device.align_size.value_or(PageGranule(geometry.arch));
  layout.guest_size = QemuGuestSize(layout.target_size, layout.label_size, layout.align_size);
  layout.pmem = geometry.mode == NamespaceMode::kDevdax;
  return layout;
}

Adoption CheckAdoption(const Geometry& geometry, const Layout& existing, LayoutSource source) {
  Adoption adoption;
  adoption.source = source;
  adoption.existing = existing;
  Geometry lower_bound = geometry;
  lower_bound.label_size = kMinLabelSize;
  for (Violation& violation : CheckLayout(lower_bound, existing)) {
    // <pmem/> is set as the mode wants by LayoutOfDevice; a record never
    // holds a wrong one. Either way changing it moves no data.
    if (violation.constraint == Constraint::kPmemOnlyForDax) continue;
    (IsLoss(violation.constraint) ? adoption.losses : adoption.refusals)
        .push_back(std::move(violation));
  }
  return adoption;
}

std::string DescribeLoss(const Geometry& geometry, const Violation& loss) {
  switch (loss.constraint) {
    case Constraint::kHotplugBlock:
      return "guest area not a multiple of " + FormatSize(HotplugBlockSize(geometry.arch)) +
             ": memory hot-plugged after it may not come online";
    case Constraint::kLabelGranule:
      return loss.message + ": on a host with larger pages QEMU would move it";
    default:
      return loss.message;
  }
}

std::string DescribeLayout(const Layout& layout) {
  return "target " + FormatSize(layout.target_size) + ", label " + FormatSize(layout.label_size) +
         " at offset " +
         FormatSize(layout.target_size > layout.label_size ? layout.target_size - layout.label_size
                                                           : 0) +
         ", alignsize " + FormatSize(layout.align_size) + ", guest " +
         FormatSize(layout.guest_size);
}

}  // namespace nvh
