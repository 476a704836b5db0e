// Test helper: a Domain value as `nvdimmctl rewrite` leaves it, without
// going through XML, for tests of what comes after the rewrite.
#pragma once

#include "core/plan.h"

namespace nvh::testing_support {

inline Domain ApplyPlanByHand(Domain domain, const Plan& plan) {
  for (const PlannedDevice& device : plan.devices) domain.memory_devices.push_back(device.Device());
  const Prerequisites& p = plan.prerequisites;
  domain.max_memory = p.max_memory;
  domain.max_memory_slots = p.max_memory_slots;
  if (p.add_numa_cell) domain.numa_cells = {*p.add_numa_cell};
  if (p.add_acpi) domain.acpi = true;
  domain.memory = p.memory;
  return domain;
}

}  // namespace nvh::testing_support
