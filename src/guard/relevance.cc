#include "guard/relevance.h"

#include "guard/fast_path.h"

namespace nvh {

bool IsGuardedOperation(std::string_view op) {
  return fast_path::IsGuardedOperation(op);
}

bool MayConcernNvdimm(std::string_view domain_xml) {
  return fast_path::MayConcernNvdimm(domain_xml);
}

bool HasNvdimmWork(const Domain& domain) {
  if (domain.annotation && !domain.annotation->entries.empty()) return true;
  for (const MemoryDevice& device : domain.memory_devices) {
    if (device.model == "nvdimm") return true;
  }
  return false;
}

Relevance Classify(const Domain& domain, std::string_view device_dir) {
  if (domain.annotation && !domain.annotation->entries.empty()) return Relevance::kAnnotated;
  std::string prefix(device_dir);
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  for (const MemoryDevice& device : domain.memory_devices) {
    // Namespace nodes are direct children (/dev/dax0.0, /dev/pmem1s); files
    // in /dev/shm or /dev/hugepages are plain memory, not ours.
    if (device.model == "nvdimm" && device.source_path.starts_with(prefix) &&
        device.source_path.find('/', prefix.size()) == std::string::npos) {
      return Relevance::kDevice;
    }
  }
  return Relevance::kNone;
}

}  // namespace nvh
