// Turns the `inventory` setting into a backend: "libndctl" (the live host) or
// the path of a saved `ndctl list -N -v` file.
#pragma once

#include <memory>
#include <string>

#include "core/inventory.h"

namespace nvh {

inline constexpr char kLiveInventory[] = "libndctl";

std::unique_ptr<Inventory> OpenInventory(const std::string& source,
                                         const std::string& device_dir = "/dev");

}  // namespace nvh
