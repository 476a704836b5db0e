// Data first (DESIGN.md §3): an nvdimm that already exists (in the domain
// definition, or in the layout record of its last start) has a data layout
// the guest owns: the target size QEMU saw (after libvirt's rounding), the
// label at S - L, the alignsize. When libvirt, QEMU and device DAX accept that
// layout on this host it is kept exactly, whatever formula wrote it (by hand,
// oVirt, Nova); what it gives up compared with the computed layout is only
// reported. The rules are CheckLayout's (sizing.h), split here into those that
// stop the start and those that only cost something.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/sizing.h"

namespace nvh {

// A layout the guest has run with, from the layout record, by namespace key
// (HostNamespace::IdentityKey()).
struct RecordedLayout {
  std::string key;
  Layout layout;
  std::string path;  // the device node the namespace had at that start
};

enum class LayoutSource { kRecord, kDefinition };
std::string_view LayoutSourceName(LayoutSource source);  // "the layout record", …

struct Adoption {
  LayoutSource source = LayoutSource::kDefinition;
  Layout existing;                  // as QEMU gets it
  std::vector<Violation> refusals;  // why it cannot work here; empty: it can be kept
  std::vector<Violation> losses;    // what keeping it gives up
  bool Usable() const { return refusals.empty(); }
};

// The layout QEMU gets from a device as written: the target size after
// libvirt's rounding (LibvirtAdjustedTargetSize; 0 where libvirt refuses the
// device), its label (0 when it has none), its alignsize (QEMU's default when
// absent: the page, file_ram_alloc), the guest size QEMU computes from them,
// and <pmem/> as the namespace's mode wants it (changing <pmem/> or access
// moves no data, so the plan corrects them).
Layout LayoutOfDevice(const MemoryDevice& device, const Geometry& geometry);

// Checks `existing` against every CheckLayout rule on `geometry` (whose
// label_size is only the 128 KiB lower bound). Broken hot-plug alignment and
// label granule are losses; everything else that breaks stops libvirt, QEMU
// or device DAX and makes the layout unusable.
Adoption CheckAdoption(const Geometry& geometry, const Layout& existing, LayoutSource source);

// What a loss means for the guest, in one phrase ("guest area not a multiple
// of 128 MiB: memory hot-plugged after it may not come online").
std::string DescribeLoss(const Geometry& geometry, const Violation& loss);

// "target 1004 MiB, label 128 KiB at offset 1003.9 MiB, alignsize 2 MiB, guest 1002 MiB".
std::string DescribeLayout(const Layout& layout);

}  // namespace nvh
