#include "ndctl/inventory_source.h"

#include "ndctl/json_inventory.h"
#include "ndctl/libndctl_inventory.h"

namespace nvh {

std::unique_ptr<Inventory> OpenInventory(const std::string& source, const std::string& device_dir) {
  if (source.empty() || source == kLiveInventory) return std::make_unique<LibndctlInventory>();
  return std::make_unique<JsonInventory>(source, device_dir);
}

}  // namespace nvh
