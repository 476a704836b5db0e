// The host's NVDIMM namespaces, behind one small interface so the planner does
// not care whether they come from libndctl or from a saved `ndctl list` file.
#pragma once

#include "core/host_namespace.h"
#include "util/error.h"

namespace nvh {

class Inventory {
 public:
  virtual ~Inventory() = default;
  // Every namespace on every bus and region, in the backend's enumeration
  // order. Disabled namespaces with no size (region seeds) are left out.
  virtual Result<HostNamespaces> List() = 0;
};

}  // namespace nvh
