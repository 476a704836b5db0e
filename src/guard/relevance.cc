#include "guard/relevance.h"

namespace nvh {

bool IsGuardedOperation(std::string_view op) {
  for (std::string_view guarded :
       {"prepare", "start", "started", "migrate", "restore", "reconnect", "stopped", "release"}) {
    if (op == guarded) return true;
  }
  return false;
}

bool MayConcernNvdimm(std::string_view domain_xml) {
  return domain_xml.find("nvdimm") != std::string_view::npos;
}

Relevance Classify(const Domain& domain, std::string_view device_dir) {
  if (domain.annotation && !domain.annotation->entries.empty()) return Relevance::kAnnotated;
  std::string prefix(device_dir);
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  for (const MemoryDevice& device : domain.memory_devices) {
    if (device.model == "nvdimm" && device.source_path.starts_with(prefix)) {
      return Relevance::kDevice;
    }
  }
  return Relevance::kNone;
}

}  // namespace nvh
