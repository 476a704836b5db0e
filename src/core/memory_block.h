// The guest kernel's memory block (H in DESIGN.md §3), derived per domain:
// DIMMs hot-plugged after an NVDIMM are placed right after it, and the guest
// kernel onlines memory only in whole blocks, so the NVDIMM's guest area must
// be a multiple of the block the guest will actually use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/domain.h"
#include "util/error.h"

namespace nvh {

struct MemoryBlockChoice {
  std::uint64_t bytes = 0;  // H for Geometry::hotplug_block (kNoHotplug for "none")
  std::string reason;       // "x86_64 guest, boot memory ends at 4 GiB (< 64 GiB)"
};

// Where the guest's boot RAM ends in guest-physical memory on QEMU's x86 PC
// machines, i.e. Linux's max_pfn << PAGE_SHIFT: RAM below the PCI hole, the
// rest from 4 GiB up (QEMU 7.2 hw/i386/pc_piix.c pc_init1 and
// hw/i386/pc_q35.c pc_q35_init). nullopt for a machine type with another map.
std::optional<std::uint64_t> X86BootMemoryEnd(const std::string& machine, std::uint64_t ram);

// Linux arch/x86/mm/init_64.c probe_memory_block_size() in a VM: 128 MiB
// below 64 GiB of boot memory end, else the largest power of two up to 2 GiB
// that divides the end.
std::uint64_t X86MemoryBlock(std::uint64_t boot_memory_end);

// The guest's boot RAM: its NUMA cells, else <memory> minus memory devices
// (what libvirt passes as -m size=…).
std::uint64_t BootMemory(const Domain& domain);

// H for `domain`: the annotation's hotplug-block when given, else derived
// from the architecture and the domain's memory map. Errors name the domain,
// the value and the attribute that would settle it.
Result<MemoryBlockChoice> GuestMemoryBlock(const Domain& domain);

}  // namespace nvh
