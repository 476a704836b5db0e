#include "core/namespace_usable.h"

#include <algorithm>

#include "core/sizing.h"

namespace nvh {
namespace {

std::uint64_t AlignDown(std::uint64_t value, std::uint64_t align) {
  return value - value % align;
}

std::uint64_t AlignUp(std::uint64_t value, std::uint64_t align) {
  return AlignDown(value + align - 1, align);
}

// pfn_devs.c: MAX_STRUCT_PAGE_SIZE, SZ_8K, SZ_4K; x86_64
// memremap_compat_align() is SUBSECTION_SIZE (2 MiB).
constexpr std::uint64_t kStructPage = 64;
constexpr std::uint64_t kInfoBlockArea = 8 * KiB;
constexpr std::uint64_t kPage = 4 * KiB;
constexpr std::uint64_t kCompatAlign = 2 * MiB;

// btt.h: ARENA_MIN_SIZE, ARENA_MAX_SIZE, BTT_PG_SIZE, BTT_DEFAULT_NFREE
// (ND_MAX_LANES), MAP_ENT_SIZE, LOG_GRP_SIZE, INT_LBASIZE_ALIGNMENT.
constexpr std::uint64_t kArenaMin = 16 * MiB;
constexpr std::uint64_t kArenaMax = 512 * GiB;
constexpr std::uint64_t kBttPage = 4 * KiB;
constexpr std::uint64_t kFree = 256;
constexpr std::uint64_t kMapEntry = 4;
constexpr std::uint64_t kLogGroup = 64;
constexpr std::uint64_t kLbaAlign = 64;

// alloc_arena(): the external LBAs one arena of `size` bytes offers.
std::uint64_t ArenaExternalBlocks(std::uint64_t size, std::uint64_t internal_lbasize) {
  std::uint64_t available = AlignDown(size, kBttPage);
  available -= 2 * kBttPage;                          // info block and its copy
  available -= AlignUp(kFree * kLogGroup, kBttPage);  // the log
  const std::uint64_t internal = (available - kBttPage) / (internal_lbasize + kMapEntry);
  return internal - kFree;
}

}  // namespace

std::uint64_t PfnUsableSize(std::uint64_t namespace_size, std::uint64_t align) {
  align = std::max(align, kCompatAlign);
  if (namespace_size <= kInfoBlockArea) return 0;
  const std::uint64_t pages = (namespace_size - kInfoBlockArea) / kPage;
  const std::uint64_t offset = AlignUp(kInfoBlockArea + kStructPage * pages, align);
  const std::uint64_t end_trunc = namespace_size % align;
  if (offset >= namespace_size - end_trunc) return 0;
  return namespace_size - offset - end_trunc;
}

std::uint64_t BttUsableSize(std::uint64_t namespace_size, std::uint64_t sector_size,
                            std::uint64_t initial_offset) {
  if (namespace_size < initial_offset + kArenaMin) return 0;
  const std::uint64_t internal_lbasize = AlignUp(sector_size, kLbaAlign);
  std::uint64_t remaining = namespace_size - initial_offset;
  std::uint64_t blocks = 0;
  // create_arenas(): full arenas, then the rest if it is at least the minimum.
  while (remaining >= kArenaMin) {
    const std::uint64_t arena = std::min(remaining, kArenaMax);
    remaining -= arena;
    blocks += ArenaExternalBlocks(arena, internal_lbasize);
  }
  return blocks * sector_size;
}

std::uint64_t UsableSize(NamespaceMode mode, std::uint64_t namespace_size, std::uint64_t align) {
  switch (mode) {
    case NamespaceMode::kRaw:
      return namespace_size;
    case NamespaceMode::kSector:
      return BttUsableSize(namespace_size);
    case NamespaceMode::kFsdax:
    case NamespaceMode::kDevdax:
      return PfnUsableSize(namespace_size, align);
  }
  return 0;
}

}  // namespace nvh
