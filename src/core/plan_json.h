// The machine-readable forms of a plan and of a host namespace, as
// `nvdimmctl plan --json` and `nvdimmctl list --json` print them. Sizes are
// bytes.
#pragma once

#include <nlohmann/json.hpp>

#include "core/arch.h"
#include "core/host_namespace.h"
#include "core/plan.h"

namespace nvh {

// {"domain":…,"devices":[{"namespace","uuid","mode","path","device_size",
//  "device_align","target_size","label_size","align_size","guest_size",
//  "node","pmem"}]}
nlohmann::ordered_json PlanToJson(const Plan& plan);

// ndctl's own field names and values (so a test can compare with
// `ndctl list -N -v` field by field), plus "path", "dax", "persistence" and,
// for `arch`, the "guest_size"/"target_size" a default plan would give (null
// when the namespace is too small).
nlohmann::ordered_json NamespaceToJson(const HostNamespace& ns, Arch arch);

}  // namespace nvh
