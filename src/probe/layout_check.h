// Does the domain's own QEMU binary give each planned NVDIMM the guest size
// and label the plan computed? The hook asks at `prepare` (DESIGN.md §4,
// "QEMU layout probe current"); `nvdimmctl probe` asks on demand. A cached
// measurement of the same binary and geometry answers without launching
// anything; otherwise the binary is probed (qemu_probe.h) and the answer
// stored.
//
// The hook's use:
//   LayoutCheckOptions options;
//   options.state_dir = config.state_dir;  // ProbeMode::kOff: skip the call, log it
//   std::vector<std::string> warnings;
//   auto checked = CheckPlanLayout(domain, plan, options, &warnings);
//   for (const auto& w : warnings) log(w);
//   if (!checked) refuse(checked.error().message);  // names binary, expected, measured
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/plan.h"
#include "probe/qemu_probe.h"
#include "util/error.h"

namespace nvh {

// Warnings are trouble that decided nothing (a damaged cache that was
// ignored, a cache that could not be written, QEMU's stderr such as its
// pmem=on on a non-DAX file warning): for the log.

struct LayoutCheckOptions {
  std::string state_dir;  // holds probe-cache.json; "" = no cache, always probe
  std::string emulator;   // instead of the domain's <emulator> ("" = the domain's)
  std::string machine;    // instead of the domain's machine type ("" = the domain's)
  std::chrono::milliseconds timeout = kDefaultProbeTimeout;  // per probe
  std::string scratch_dir;  // where the sparse backing file goes ("" = TMPDIR or /tmp)
};

// What the plan says QEMU must show the guest.
struct ExpectedLayout {
  std::uint64_t guest_size = 0;  // G
  std::uint64_t label_size = 0;  // L
};

struct DeviceLayoutCheck {
  std::string device;  // the planned device's <source><path>; "" for a bare geometry
  ProbeRequest request;
  ExpectedLayout expected;
  ProbeMeasurement measured;
  bool from_cache = false;  // no QEMU ran for this device

  bool matches() const {
    return measured.guest_size == expected.guest_size && measured.label_size == expected.label_size;
  }
  // One sentence naming the binary, the device, the expected and the measured
  // guest and label sizes (in bytes and in units).
  std::string Mismatch() const;
};

struct LayoutCheckReport {
  std::vector<DeviceLayoutCheck> devices;

  bool matches() const;
};

// The expectation for a planned device: its G and L.
ExpectedLayout ExpectedFor(const Layout& layout);

// One geometry: the cached measurement for `request`'s binary as it is now,
// else a probe, stored in `state_dir`'s cache ("" = no cache). An error only
// when no measurement can be had (binary missing, probe failed or timed
// out); a mismatch is a result, see DeviceLayoutCheck::matches().
Result<DeviceLayoutCheck> MeasureLayout(const ProbeRequest& request, const ExpectedLayout& expected,
                                        const std::string& state_dir,
                                        std::vector<std::string>& warnings);

// Every planned device of `domain` measured with the domain's emulator and
// machine (or the options' overrides). Identical geometries are probed once.
// Warnings go to `warnings` as they arise, so a failing device still leaves
// those of the devices before it.
Result<LayoutCheckReport> MeasurePlanLayout(const Domain& domain, const Plan& plan,
                                            const LayoutCheckOptions& options,
                                            std::vector<std::string>& warnings);

// The hook's call at `prepare`: the report when every device matches;
// otherwise kConflict naming the binary and, per mismatching device, the
// expected and measured numbers; or the error that kept the probe from
// running (kNotFound: binary missing; kSystem: timeout, crash; kInvalidInput:
// QEMU refused the geometry outright), prefixed with the device. A domain
// with no planned device is a match without any probe. `warnings` (when
// given) receives the report's warnings on every path, refusals included.
Result<LayoutCheckReport> CheckPlanLayout(const Domain& domain, const Plan& plan,
                                          const LayoutCheckOptions& options,
                                          std::vector<std::string>* warnings = nullptr);

}  // namespace nvh
