#include "core/plan.h"

namespace nvh {

MemoryDevice PlannedDevice::Device() const {
  MemoryDevice device;
  device.model = "nvdimm";
  // The guest's stores must reach the namespace, never a private COW copy.
  device.access = "shared";
  device.source_path = path;
  device.align_size = layout.align_size;
  device.pmem = layout.pmem;
  device.target_size = layout.target_size;
  device.node = node;
  device.label_size = layout.label_size;
  return device;
}

}  // namespace nvh
