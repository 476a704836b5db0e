// Guest architectures whose NVDIMM rules differ (DESIGN.md §3).
#pragma once

#include <optional>
#include <string_view>

namespace nvh {

// kI686: QEMU's i386 pc machine has NVDIMMs like x86_64 (qemu-system-i386
// 7.2 measured: G = alignDown(S - L, A)); libvirt rounds its sizes like x86_64.
enum class Arch { kX86_64, kAarch64, kPpc64, kI686 };

std::string_view ArchName(Arch arch);
// Accepts libvirt's <os><type arch=…> names: x86_64, i686, aarch64, ppc64, ppc64le.
std::optional<Arch> ParseArch(std::string_view name);

}  // namespace nvh
