// Guest architectures whose NVDIMM rules differ (DESIGN.md §3).
#pragma once

#include <optional>
#include <string_view>

namespace nvh {

enum class Arch { kX86_64, kAarch64, kPpc64 };

std::string_view ArchName(Arch arch);
// Accepts libvirt's <os><type arch=…> names: x86_64, aarch64, ppc64, ppc64le.
std::optional<Arch> ParseArch(std::string_view name);

}  // namespace nvh
