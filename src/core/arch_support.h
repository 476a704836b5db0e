// Whether the planner knows a domain's architecture. A domain whose
// <os><type arch> it does not know is read all the same (libvirt accepts
// s390x, riscv64, armv7l …); only planning an NVDIMM for it is refused, so a
// host namespace is always either claimed or refused, never waved through.
#pragma once

#include "core/domain.h"
#include "util/error.h"

namespace nvh {

// Fails, naming the architecture, when `domain.unsupported_arch` is set.
Result<void> RequireKnownArch(const Domain& domain);

}  // namespace nvh
