#include "probe/layout_check.h"

#include <algorithm>
#include <utility>

#include "probe/probe_cache.h"
#include "util/bytes.h"

namespace nvh {
namespace {

std::string Size(std::uint64_t bytes) {
  return FormatSize(bytes) + " (" + std::to_string(bytes) + " bytes)";
}

std::string Machine(const ProbeRequest& request) {
  return request.machine.empty() ? std::string("default") : request.machine;
}

bool SameGeometry(const ProbeRequest& a, const ProbeRequest& b) {
  return a.emulator == b.emulator && a.machine == b.machine && a.target_size == b.target_size &&
         a.label_size == b.label_size && a.align_size == b.align_size && a.pmem == b.pmem;
}

}  // namespace

std::string DeviceLayoutCheck::Mismatch() const {
  if (matches()) return "";
  std::string text = "QEMU " + request.emulator;
  if (!measured.qemu_version.empty()) text += " (version " + measured.qemu_version + ")";
  text += ", machine " + Machine(request) + ", target " + FormatSize(request.target_size) +
          ", alignsize " + (request.align_size ? FormatSize(request.align_size) : "none") + ": ";
  if (!device.empty()) text += "nvdimm " + device + ": ";
  std::vector<std::string> parts;
  if (measured.guest_size != expected.guest_size) {
    parts.push_back("the plan expects guest size " + Size(expected.guest_size) +
                    ", QEMU measured " + Size(measured.guest_size));
  }
  if (measured.label_size != expected.label_size) {
    parts.push_back("the plan expects label size " + Size(expected.label_size) +
                    ", QEMU measured " + Size(measured.label_size));
  }
  for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? "; " : "") + parts[i];
  return text + (from_cache ? " (cached measurement of this binary)" : "");
}

bool LayoutCheckReport::matches() const {
  return std::all_of(devices.begin(), devices.end(),
                     [](const DeviceLayoutCheck& d) { return d.matches(); });
}

ExpectedLayout ExpectedFor(const Layout& layout) {
  return ExpectedLayout{layout.guest_size, layout.label_size};
}

Result<DeviceLayoutCheck> MeasureLayout(const ProbeRequest& request, const ExpectedLayout& expected,
                                        const std::string& state_dir,
                                        std::vector<std::string>& warnings) {
  DeviceLayoutCheck check;
  check.request = request;
  check.expected = expected;
  std::optional<ProbeCacheKey> key;
  std::optional<ProbeCache> cache;
  if (!state_dir.empty()) {
    // The key is taken before the probe: a binary replaced while it runs
    // stores under the old identity, which then simply never hits again.
    if (auto k = ProbeCacheKey::For(request)) {
      key = std::move(*k);
      cache.emplace(state_dir);
      auto hit = cache->Lookup(*key);
      if (!hit) {
        warnings.push_back("probe cache ignored: " + hit.error().message);
      } else if (*hit) {
        check.measured = std::move(**hit);
        check.from_cache = true;
        return check;
      }
    }
    // A binary that cannot be stat()ed cannot be probed either: ProbeQemu
    // says why, with the path.
  }
  auto measured = ProbeQemu(request);
  if (!measured) return std::unexpected(measured.error());
  check.measured = std::move(*measured);
  for (const std::string& note : check.measured.notes) {
    warnings.push_back("QEMU " + request.emulator + ": " + note);
  }
  if (cache && key) {
    if (auto stored = cache->Store(*key, check.measured); !stored) {
      warnings.push_back("probe cache not updated: " + stored.error().message);
    }
  }
  return check;
}

Result<LayoutCheckReport> MeasurePlanLayout(const Domain& domain, const Plan& plan,
                                            const LayoutCheckOptions& options,
                                            std::vector<std::string>& warnings) {
  LayoutCheckReport report;
  for (const PlannedDevice& device : plan.devices) {
    ProbeRequest request = ProbeRequestFor(domain, device);
    if (!options.emulator.empty()) request.emulator = options.emulator;
    if (!options.machine.empty()) request.machine = options.machine;
    request.timeout = options.timeout;
    request.scratch_dir = options.scratch_dir;
    const std::string context = "nvdimm " + device.path + ": ";
    if (request.emulator.empty()) {
      return Fail(ErrorKind::kInvalidInput,
                  context + "domain '" + domain.name +
                      "' names no <emulator>: cannot check QEMU's NVDIMM layout");
    }
    const ExpectedLayout expected = ExpectedFor(device.layout);
    // Two devices of one geometry: QEMU's answer is the same, ask once.
    const auto same =
        std::find_if(report.devices.begin(), report.devices.end(),
                     [&](const DeviceLayoutCheck& d) { return SameGeometry(d.request, request); });
    if (same != report.devices.end()) {
      DeviceLayoutCheck copy = *same;
      copy.device = device.path;
      copy.expected = expected;
      report.devices.push_back(std::move(copy));
      continue;
    }
    auto check = MeasureLayout(request, expected, options.state_dir, warnings);
    if (!check) return std::unexpected(WithContext(check.error(), context));
    check->device = device.path;
    report.devices.push_back(std::move(*check));
  }
  return report;
}

Result<LayoutCheckReport> CheckPlanLayout(const Domain& domain, const Plan& plan,
                                          const LayoutCheckOptions& options,
                                          std::vector<std::string>* warnings) {
  std::vector<std::string> ignored;
  auto report = MeasurePlanLayout(domain, plan, options, warnings ? *warnings : ignored);
  if (!report) {
    return std::unexpected(WithContext(report.error(), "cannot verify QEMU's NVDIMM layout: "));
  }
  if (report->matches()) return report;
  std::string message = "QEMU would not give the guest the planned NVDIMM layout: ";
  bool first = true;
  for (const DeviceLayoutCheck& device : report->devices) {
    if (device.matches()) continue;
    message += (first ? "" : "; ") + device.Mismatch();
    first = false;
  }
  return Fail(ErrorKind::kConflict, message);
}

}  // namespace nvh
