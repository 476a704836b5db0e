#include "core/memory_block.h"

#include <charconv>
#include <string_view>

#include "core/sizing.h"
#include "util/bytes.h"

namespace nvh {
namespace {

// Linux arch/x86/mm/init_64.c MEM_SIZE_FOR_LARGE_BLOCK and MAX_BLOCK_SIZE;
// MIN_MEMORY_BLOCK_SIZE is the 128 MiB x86_64 sparsemem section.
constexpr std::uint64_t kLargeBlockThreshold = 64 * GiB;
constexpr std::uint64_t kX86MaxBlock = 2 * GiB;
constexpr std::uint64_t kX86MinBlock = 128 * MiB;
constexpr std::uint64_t k4GiB = 4 * GiB;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "1.7" of "pc-i440fx-1.7": true for versions up to 1.7, whose machine
// types keep the 3.5 GiB split (pc_i440fx_1_7_machine_options sets
// gigabyte_align = false).
bool PcVersionBefore2(std::string_view version) {
  int major = 0;
  const auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), major);
  return ec == std::errc() && end != version.data() && major < 2;
}

}  // namespace

std::optional<std::uint64_t> X86BootMemoryEnd(const std::string& machine, std::uint64_t ram) {
  std::uint64_t lowmem = 0;
  const std::string_view m = machine;
  if (m == "q35" || StartsWith(m, "pc-q35-")) {
    // pc_q35_init: all RAM below 4 GiB when it fits below 2.75 GiB (the
    // MMCONFIG base), else 2 GiB below and the rest above.
    lowmem = ram >= 0xb0000000ULL ? 2 * GiB : 0xb0000000ULL;
  } else if (m.empty() || m == "pc" || StartsWith(m, "pc-i440fx-") || StartsWith(m, "pc-")) {
    // pc_init1: max-ram-below-4g defaults to 3.5 GiB; when the RAM does not
    // fit, gigabyte_align machine types (all from 2.0 on) split at 3 GiB.
    // An empty machine is libvirt's x86_64 default, QEMU's "pc".
    lowmem = 0xe0000000ULL;
    const std::string_view version =
        StartsWith(m, "pc-i440fx-") ? m.substr(10) : (StartsWith(m, "pc-") ? m.substr(3) : "");
    const bool gigabyte_align = version.empty() || !PcVersionBefore2(version);
    if (ram >= lowmem && gigabyte_align) lowmem = 3 * GiB;
  } else {
    return std::nullopt;
  }
  // above_4g_mem_start is 4 GiB (QEMU 7.1+ moves it past 1 TiB only for AMD
  // guests whose memory reaches the HyperTransport hole).
  return ram >= lowmem ? k4GiB + (ram - lowmem) : ram;
}

std::uint64_t X86MemoryBlock(std::uint64_t boot_memory_end) {
  if (boot_memory_end < kLargeBlockThreshold) return kX86MinBlock;
  std::uint64_t block = kX86MaxBlock;
  while (block > kX86MinBlock && boot_memory_end % block != 0) block >>= 1;
  return block;
}

std::uint64_t BootMemory(const Domain& domain) {
  if (!domain.numa_cells.empty()) {
    std::uint64_t total = 0;
    for (const NumaCell& cell : domain.numa_cells) total += cell.memory;
    return total;
  }
  std::uint64_t devices = 0;
  for (const MemoryDevice& device : domain.memory_devices) devices += device.target_size;
  return domain.memory > devices ? domain.memory - devices : domain.memory;
}

Result<MemoryBlockChoice> GuestMemoryBlock(const Domain& domain) {
  if (domain.annotation && domain.annotation->hotplug_block) {
    const std::uint64_t value = *domain.annotation->hotplug_block;
    if (value == 0)
      return MemoryBlockChoice{kNoHotplug, "hotplug-block=\"none\" in the annotation"};
    return MemoryBlockChoice{value,
                             "hotplug-block=\"" + FormatSize(value) + "\" in the annotation"};
  }
  const std::string arch(ArchName(domain.arch));
  if (domain.arch == Arch::kPpc64) {
    return MemoryBlockChoice{HotplugBlockSize(domain.arch),
                             "ppc64 guest: QEMU's SPAPR_MEMORY_BLOCK_SIZE (ibm,lmb-size)"};
  }
  if (domain.arch == Arch::kI686) {
    return MemoryBlockChoice{HotplugBlockSize(domain.arch),
                             "i686 guest: Linux x86_32 PAE memory sections (SECTION_SIZE_BITS 29)"};
  }
  if (domain.arch != Arch::kX86_64) {
    return MemoryBlockChoice{HotplugBlockSize(domain.arch),
                             arch +
                                 " guest with 4 KiB pages (Linux >= 5.12 sections); set "
                                 "hotplug-block for 64 KiB-page or older kernels"};
  }
  const std::uint64_t ram = BootMemory(domain);
  auto end = X86BootMemoryEnd(domain.machine, ram);
  if (!end) {
    // Below 62 GiB no split can push the end to 64 GiB: the block is 128 MiB
    // on any memory map.
    if (ram + 2 * GiB < kLargeBlockThreshold) {
      return MemoryBlockChoice{kX86MinBlock, "x86_64 guest with " + FormatSize(ram) +
                                                 " of boot memory (< 62 GiB on any memory map)"};
    }
    return Fail(ErrorKind::kInvalidInput,
                "domain '" + domain.name + "': <os><type machine='" + domain.machine +
                    "'>: unknown x86 memory map for " + FormatSize(ram) +
                    " of boot memory, so the guest's memory block is unknown; set "
                    "hotplug-block on <nvdimm:nvdimms> (e.g. \"2GiB\", or \"none\")");
  }
  const std::uint64_t block = X86MemoryBlock(*end);
  return MemoryBlockChoice{
      block,
      "x86_64 guest, machine " + (domain.machine.empty() ? "pc" : domain.machine) + ", " +
          FormatSize(ram) + " of boot memory ending at " + FormatSize(*end) +
          (*end < kLargeBlockThreshold ? " (< 64 GiB)" : " (Linux probe_memory_block_size)")};
}

}  // namespace nvh
