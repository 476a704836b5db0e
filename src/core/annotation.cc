#include "core/annotation.h"

namespace nvh {

std::string DescribeSelector(const NvdimmRequest& request) {
  const char* attribute = "uuid";
  if (request.kind == SelectorKind::kNamespace) attribute = "namespace";
  if (request.kind == SelectorKind::kPath) attribute = "path";
  return std::string(attribute) + "=\"" + request.value + "\"";
}

}  // namespace nvh
