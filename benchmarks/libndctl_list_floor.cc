// Benchmark helper, not part of the product: the hook's libndctl inventory
// (src/ndctl/libndctl_inventory.h) listing the host's namespaces once, as
// every NVDIMM call does under `inventory = libndctl`: dlopen of libndctl and
// libdaxctl (and what they need), a libndctl context and the sysfs walk. On a
// machine without an NVDIMM bus the walk finds nothing, so this is the least
// a real host adds (tests/hook/fastpath_benchmark.sh, README "Benchmarks").
#include <cstdio>

#include "ndctl/libndctl_inventory.h"

int main() {
  nvh::LibndctlInventory inventory;
  const auto namespaces = inventory.List();
  if (!namespaces) {
    std::fprintf(stderr, "libndctl-list-floor: %s\n", namespaces.error().message.c_str());
    return 1;
  }
  return 0;
}
