// libndctl and libdaxctl, loaded at the first use instead of at exec.
//
// Linked normally, they and their dependencies (libkmod, libudev, libuuid,
// and through libkmod libcrypto, libzstd, liblzma) are mapped and relocated
// at every exec of the hook: over half of an annotated prepare's instructions
// went to that (issue 15), also when the inventory is a JSON file and
// libndctl is never called. Loaded here, only `inventory = libndctl` pays.
#pragma once

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include "util/error.h"

namespace nvh {

// X(name): every libndctl/libdaxctl function the inventory calls. The types
// come from the installed headers, so a signature change fails the build.
#define NVH_LIBNDCTL_FUNCTIONS(X)     \
  X(ndctl_new)                        \
  X(ndctl_unref)                      \
  X(ndctl_set_log_fn)                 \
  X(ndctl_get_daxctl_ctx)             \
  X(ndctl_bus_get_first)              \
  X(ndctl_bus_get_next)               \
  X(ndctl_region_get_first)           \
  X(ndctl_region_get_next)            \
  X(ndctl_namespace_get_first)        \
  X(ndctl_namespace_get_next)         \
  X(ndctl_namespace_get_devname)      \
  X(ndctl_namespace_is_active)        \
  X(ndctl_namespace_get_btt)          \
  X(ndctl_namespace_get_pfn)          \
  X(ndctl_namespace_get_dax)          \
  X(ndctl_namespace_get_mode)         \
  X(ndctl_namespace_get_size)         \
  X(ndctl_namespace_get_uuid)         \
  X(ndctl_namespace_get_type)         \
  X(ndctl_namespace_get_block_device) \
  X(ndctl_namespace_get_alt_name)     \
  X(ndctl_namespace_get_numa_node)    \
  X(ndctl_btt_get_size)               \
  X(ndctl_btt_get_uuid)               \
  X(ndctl_btt_get_block_device)       \
  X(ndctl_pfn_get_size)               \
  X(ndctl_pfn_get_location)           \
  X(ndctl_pfn_get_align)              \
  X(ndctl_pfn_get_uuid)               \
  X(ndctl_pfn_get_block_device)       \
  X(ndctl_dax_get_size)               \
  X(ndctl_dax_get_location)           \
  X(ndctl_dax_get_align)              \
  X(ndctl_dax_get_uuid)               \
  X(ndctl_dax_get_daxctl_region)

#define NVH_LIBDAXCTL_FUNCTIONS(X) \
  X(daxctl_set_log_fn)             \
  X(daxctl_dev_get_first)          \
  X(daxctl_dev_get_next)           \
  X(daxctl_dev_get_size)           \
  X(daxctl_dev_get_devname)        \
  X(daxctl_dev_is_enabled)         \
  X(daxctl_dev_get_memory)

struct LibndctlApi {
#define NVH_API_MEMBER(name) decltype(&::name) name = nullptr;
  NVH_LIBNDCTL_FUNCTIONS(NVH_API_MEMBER)
  NVH_LIBDAXCTL_FUNCTIONS(NVH_API_MEMBER)
#undef NVH_API_MEMBER
};

// The sonames loaded (the ABI majors of ndctl 71 and later).
inline constexpr char kLibndctlSoname[] = "libndctl.so.6";
inline constexpr char kLibdaxctlSoname[] = "libdaxctl.so.1";

// Loads both libraries once per process (later calls return the same table
// or the same error). kSystem naming the library or the missing function.
Result<const LibndctlApi*> LoadLibndctl();

}  // namespace nvh
