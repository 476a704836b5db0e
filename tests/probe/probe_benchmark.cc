// What the QEMU layout check costs a domain start (issue 5): one probe (QEMU
// launched paused, QMP, quit, reaped), and a start that finds the binary's
// measurement in the probe cache. A benchmark, not a test: it prints numbers.
//   probe-benchmark [EMULATOR [PROBES [LOOKUPS]]]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/sizing.h"
#include "probe/layout_check.h"
#include "probe/qemu_probe.h"
#include "util/bytes.h"
#include "util/scoped_temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void Report(const std::string& what, const std::vector<double>& values, const char* unit) {
  std::cout << what << ": median " << Median(values) << " " << unit << ", min "
            << *std::min_element(values.begin(), values.end()) << ", max "
            << *std::max_element(values.begin(), values.end()) << " (n=" << values.size() << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nvh;
  const std::string emulator = argc > 1 ? argv[1] : "/usr/bin/qemu-system-x86_64";
  const int probes = argc > 2 ? std::max(1, std::atoi(argv[2])) : 11;
  const int lookups = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1000;

  // The emulated host's devdax namespace (FACTS.md): 502 MiB, 2 MiB aligned.
  auto layout = ComputeLayout(
      Geometry{526385152, NamespaceMode::kDevdax, 2 * MiB, kMinLabelSize, Arch::kX86_64});
  if (!layout) {
    std::cerr << layout.error().message << "\n";
    return 1;
  }
  Domain domain;
  domain.name = "bench";
  domain.emulator = emulator;
  domain.machine = "pc";
  Plan plan;
  plan.domain = "bench";
  PlannedDevice device;
  device.path = "/dev/dax0.0";
  device.layout = *layout;
  plan.devices.push_back(device);
  const ProbeRequest request = ProbeRequestFor(domain, device);
  std::cout << "emulator " << emulator << ", machine pc, target " << FormatSize(layout->target_size)
            << ", label " << FormatSize(layout->label_size) << ", alignsize "
            << FormatSize(layout->align_size) << ", pmem\n";

  std::vector<double> wall_ms, self_ms;
  for (int i = 0; i < probes; ++i) {
    const auto start = Clock::now();
    auto measured = ProbeQemu(request);
    const auto took = Clock::now() - start;
    if (!measured) {
      std::cerr << measured.error().message << "\n";
      return 1;
    }
    if (i == 0) {
      std::cout << "QEMU " << measured->qemu_version << " (" << measured->qemu_package
                << ") guest size " << measured->guest_size << " label " << measured->label_size
                << "\n";
    }
    wall_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
    self_ms.push_back(static_cast<double>(measured->elapsed.count()) / 1000.0);
  }
  Report("one probe, wall (scratch file + spawn + QMP + reap)", wall_ms, "ms");
  Report("one probe, spawn to reap", self_ms, "ms");

  ScopedTempDir temp;
  LayoutCheckOptions options;
  options.state_dir = temp.path() + "/state";
  {
    const auto start = Clock::now();
    auto first = CheckPlanLayout(domain, plan, options);
    const auto took = Clock::now() - start;
    if (!first) {
      std::cerr << first.error().message << "\n";
      return 1;
    }
    std::cout << "first start (probe + cache store with fsync): "
              << std::chrono::duration<double, std::milli>(took).count() << " ms\n";
  }
  std::vector<double> cached_us;
  for (int i = 0; i < lookups; ++i) {
    const auto start = Clock::now();
    auto checked = CheckPlanLayout(domain, plan, options);
    const auto took = Clock::now() - start;
    if (!checked || !checked->devices[0].from_cache) {
      std::cerr << "expected a cache hit\n";
      return 1;
    }
    cached_us.push_back(std::chrono::duration<double, std::micro>(took).count());
  }
  Report("cached start (stat binary + read/parse cache + compare)", cached_us, "us");
  return 0;
}
