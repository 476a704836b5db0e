#include "core/host_namespace.h"

namespace nvh {

std::string_view ModeName(NamespaceMode mode) {
  switch (mode) {
    case NamespaceMode::kRaw:
      return "raw";
    case NamespaceMode::kSector:
      return "sector";
    case NamespaceMode::kFsdax:
      return "fsdax";
    case NamespaceMode::kDevdax:
      return "devdax";
  }
  return "unknown";
}

std::optional<NamespaceMode> ParseMode(std::string_view name) {
  // ndctl prints "memory" for fsdax and "dax" for devdax in older releases.
  if (name == "raw") return NamespaceMode::kRaw;
  if (name == "sector" || name == "safe") return NamespaceMode::kSector;
  if (name == "fsdax" || name == "memory") return NamespaceMode::kFsdax;
  if (name == "devdax" || name == "dax") return NamespaceMode::kDevdax;
  return std::nullopt;
}

std::string HostNamespace::IdentityKey() const {
  if (!uuid.empty()) return uuid;
  if (!raw_uuid.empty()) return raw_uuid;
  return dev;
}

}  // namespace nvh
