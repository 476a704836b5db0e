// The admin's request, as read from the domain's <metadata> (DESIGN.md §2):
// "give this guest host namespace X". The XML side is xml/annotation_xml.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nvh {

inline constexpr char kAnnotationUri[] = "urn:nvdimm-hook:1";

enum class SelectorKind { kUuid, kNamespace, kPath };

struct NvdimmRequest {
  SelectorKind kind = SelectorKind::kUuid;
  std::string value;                        // the uuid, "namespace0.0" or "/dev/dax0.0"
  std::optional<int> node;                  // guest NUMA node
  std::optional<std::uint64_t> label_size;  // bytes; default kMinLabelSize

  bool operator==(const NvdimmRequest&) const = default;
};

struct Annotation {
  std::vector<NvdimmRequest> entries;
  // <nvdimm:nvdimms hotplug-block="1GiB">: the guest kernel's memory block
  // when it is not what core/memory_block.cc derives; 0 = "none" (the guest
  // never hot-plugs memory). Absent: derived from the domain.
  std::optional<std::uint64_t> hotplug_block = std::nullopt;
  bool operator==(const Annotation&) const = default;
};

// `uuid="…"`, `namespace="…"` or `path="…"`: how messages name an entry.
std::string DescribeSelector(const NvdimmRequest& request);

}  // namespace nvh
