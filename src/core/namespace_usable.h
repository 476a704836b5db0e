// What the kernel leaves usable of a namespace of a given size in each mode:
// the size ndctl reports and QEMU sees as the backing (D in DESIGN.md §3).
// Used to build realistic geometries for the sizing benchmark and the tests;
// the planner itself always takes D from the inventory.
#pragma once

#include <cstdint>

#include "core/host_namespace.h"

namespace nvh {

// fsdax/devdax with the memmap on the device (ndctl map "dev"), Linux 6.1
// nd_pfn_init() (drivers/nvdimm/pfn_devs.c) on a namespace whose start is
// aligned: 64 bytes of struct page per 4 KiB page of the namespace after the
// 8 KiB info block area, padded up to `align`; the tail beyond the last
// `align` boundary is truncated. 0 where the kernel refuses ("unable to
// satisfy requested alignment").
std::uint64_t PfnUsableSize(std::uint64_t namespace_size, std::uint64_t align);

// sector: the BTT of drivers/nvdimm/btt.c (btt_init, create_arenas,
// alloc_arena), one arena per 512 GiB, 256 free blocks per arena, 4-byte map
// entries, log groups of 64 bytes, internal LBA = sector size rounded to 64.
// `initial_offset` is 0 for BTT 2.0 (v1.2 labels, what ndctl creates) and
// 4 KiB for BTT 1.1 (nd_btt_version()). 0 below the 16 MiB arena minimum.
std::uint64_t BttUsableSize(std::uint64_t namespace_size, std::uint64_t sector_size = 4096,
                            std::uint64_t initial_offset = 0);

// Per mode: raw = the namespace; sector = BttUsableSize (4 KiB sectors, BTT
// 2.0); fsdax/devdax = PfnUsableSize with `align`.
std::uint64_t UsableSize(NamespaceMode mode, std::uint64_t namespace_size, std::uint64_t align);

}  // namespace nvh
