// How two other projects size the same device, so the README and the tests can
// compare on equal geometries (DESIGN.md §3 "Peers to beat"). Computed, never
// used to plan anything. Both return what QEMU would run: the peer's target
// after libvirt's rounding, and the guest size QEMU derives from it.
#pragma once

#include "core/sizing.h"

namespace nvh {

// oVirt: target = alignDown(D, 128 MiB), then trimmed by one block so the
// guest area is a 128 MiB multiple; on ppc64 the 128 KiB label is added on top
// of alignDown(D, 256 MiB). Alignment = the namespace's own, else QEMU's page
// default. Device alignment above the block size is ignored.
Layout OvirtLayout(const Geometry& geometry);

// OpenStack Nova: target = D, label 2 MiB, no alignsize (QEMU's page default),
// no hot-plug alignment.
Layout NovaLayout(const Geometry& geometry);

}  // namespace nvh
