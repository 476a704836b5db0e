// The host's namespaces as libndctl/libdaxctl see them in sysfs: the backend
// the hook and nvdimmctl use on a real host.
#pragma once

#include "core/inventory.h"

namespace nvh {

class LibndctlInventory : public Inventory {
 public:
  // Takes a fresh libndctl context on every call (its sysfs view is cached
  // per context) and reports exactly what `ndctl list -N -v -c` prints
  // (ndctl/json.c util_namespace_to_json): active namespaces plus disabled
  // ones that still have a size. Device paths are under /dev. A host without
  // an NVDIMM bus has no namespaces; library failures are kSystem.
  Result<HostNamespaces> List() override;
};

}  // namespace nvh
