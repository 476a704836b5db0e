#include "core/arch_support.h"

namespace nvh {

Result<void> RequireKnownArch(const Domain& domain) {
  if (domain.unsupported_arch.empty()) return {};
  return Fail(ErrorKind::kInvalidInput,
              "architecture '" + domain.unsupported_arch +
                  "' (<os><type arch>) is not one nvdimm-hook can size NVDIMMs for (x86_64, "
                  "i686, aarch64, ppc64, ppc64le): the host namespace is refused, not passed "
                  "through unchecked");
}

}  // namespace nvh
