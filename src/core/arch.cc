#include "core/arch.h"

namespace nvh {

std::string_view ArchName(Arch arch) {
  switch (arch) {
    case Arch::kX86_64:
      return "x86_64";
    case Arch::kAarch64:
      return "aarch64";
    case Arch::kPpc64:
      return "ppc64";
    case Arch::kI686:
      return "i686";
  }
  return "unknown";
}

std::optional<Arch> ParseArch(std::string_view name) {
  if (name == "x86_64") return Arch::kX86_64;
  if (name == "aarch64") return Arch::kAarch64;
  if (name == "i686") return Arch::kI686;
  // ppc64 and ppc64le share libvirt's ARCH_IS_PPC64 rules.
  if (name == "ppc64" || name == "ppc64le") return Arch::kPpc64;
  return std::nullopt;
}

}  // namespace nvh
