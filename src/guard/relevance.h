// Whether a libvirt hook call concerns this project at all. The answer decides
// the fast path: a domain without NVDIMMs is never blocked and never costs an
// inventory walk, a config read or a state-dir access.
#pragma once

#include <string_view>

#include "core/domain.h"

namespace nvh {

// The libvirt qemu hook operations the guard acts on (DESIGN.md §4).
bool IsGuardedOperation(std::string_view op);

// Cheap pre-check on the raw XML: a domain whose definition never says
// "nvdimm" has neither our annotation (urn:nvdimm-hook:1) nor an nvdimm
// device, so there is nothing to parse.
bool MayConcernNvdimm(std::string_view domain_xml);

enum class Relevance {
  kNone,       // no annotation, no nvdimm that could be a host namespace
  kAnnotated,  // our annotation names at least one namespace
  kDevice,     // an nvdimm whose source is a device node: maybe a host namespace
};

// An annotation or any nvdimm device: the config is worth reading.
bool HasNvdimmWork(const Domain& domain);

// `device_dir` is where host namespace nodes live (/dev, or a test's).
Relevance Classify(const Domain& domain, std::string_view device_dir);

}  // namespace nvh
