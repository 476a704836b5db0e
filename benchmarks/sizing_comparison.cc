// Compares our layouts with oVirt's and Nova's on one grid of geometries and
// prints the Markdown table the README shows. Run: build/sizing-benchmark.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/peer_formulas.h"
#include "core/sizing.h"

namespace {

using nvh::Arch;
using nvh::NamespaceMode;

struct Tally {
  int valid = 0;
  int invalid = 0;
  double ratio_sum = 0;  // guest/device, invalid layouts counting 0
  // Against ours, on geometries where both are valid.
  int ours_larger = 0;
  int equal = 0;
  int ours_smaller = 0;
  int only_peer_valid = 0;  // we refuse, the peer gives a valid layout
  std::map<std::string, int> violations;
};

}  // namespace

int main() {
  std::vector<nvh::Geometry> geometries;
  struct Kind {
    NamespaceMode mode;
    std::uint64_t align;
  };
  const Kind kinds[] = {{NamespaceMode::kRaw, 0},
                        {NamespaceMode::kSector, 0},
                        {NamespaceMode::kFsdax, 2 * nvh::MiB},
                        {NamespaceMode::kDevdax, 2 * nvh::MiB},
                        {NamespaceMode::kDevdax, nvh::GiB}};
  for (Arch arch : {Arch::kX86_64, Arch::kAarch64, Arch::kPpc64}) {
    for (const Kind& kind : kinds) {
      // Every 2 MiB from 256 MiB to 8 GiB, plus the memmap-reserved variants
      // real fsdax/devdax namespaces have (FACTS.md: ~10 MiB below).
      for (std::uint64_t d = 256 * nvh::MiB; d <= 8 * nvh::GiB; d += 2 * nvh::MiB) {
        geometries.push_back({d, kind.mode, kind.align, nvh::kMinLabelSize, arch});
        geometries.push_back(
            {d - 10 * nvh::MiB + 64 * nvh::KiB, kind.mode, kind.align, nvh::kMinLabelSize, arch});
      }
    }
  }

  const char* names[] = {"nvdimm-hook", "oVirt", "Nova"};
  Tally tallies[3];
  for (const nvh::Geometry& g : geometries) {
    nvh::Layout layouts[3];
    bool valid[3];
    auto ours = nvh::ComputeLayout(g);
    layouts[0] = ours ? *ours : nvh::Layout{};
    valid[0] = ours.has_value();
    layouts[1] = nvh::OvirtLayout(g);
    layouts[2] = nvh::NovaLayout(g);
    for (int i = 1; i < 3; ++i) valid[i] = nvh::IsValidLayout(g, layouts[i]);
    for (int i = 0; i < 3; ++i) {
      Tally& t = tallies[i];
      if (!valid[i]) {
        ++t.invalid;
        for (const nvh::Violation& v : nvh::CheckLayout(g, layouts[i])) {
          ++t.violations[std::string(nvh::ConstraintName(v.constraint))];
        }
        continue;
      }
      ++t.valid;
      t.ratio_sum +=
          static_cast<double>(layouts[i].guest_size) / static_cast<double>(g.backing_size);
      if (i == 0) continue;
      if (!valid[0]) {
        ++t.only_peer_valid;
      } else if (layouts[0].guest_size > layouts[i].guest_size) {
        ++t.ours_larger;
      } else if (layouts[0].guest_size == layouts[i].guest_size) {
        ++t.equal;
      } else {
        ++t.ours_smaller;
      }
    }
  }

  std::printf(
      "%zu geometries: {x86_64, aarch64, ppc64} x {raw, sector, fsdax, devdax align 2M, devdax "
      "align 1G}\nx device sizes every 2 MiB from 256 MiB to 8 GiB and 10 MiB below each "
      "(memmap-reserved), label 128 KiB.\nA layout is valid when no rule of sizing.cc breaks "
      "after libvirt's own rounding; guest size is what QEMU computes.\n\n",
      geometries.size());
  std::printf(
      "| formula | valid | invalid | vs ours (both valid): ours larger / equal / ours smaller | "
      "valid where we refuse | mean guest/device (invalid = 0) | rules broken (count) |\n"
      "|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < 3; ++i) {
    const Tally& t = tallies[i];
    std::string violations;
    for (const auto& [name, count] : t.violations) {
      violations += (violations.empty() ? "" : ", ") + name + " " + std::to_string(count);
    }
    if (i == 0) violations = "none; refused as too small: " + std::to_string(t.invalid);
    const std::string versus = i == 0 ? "-"
                                      : std::to_string(t.ours_larger) + " / " +
                                            std::to_string(t.equal) + " / " +
                                            std::to_string(t.ours_smaller);
    std::printf("| %s | %d | %d | %s | %s | %.4f | %s |\n", names[i], t.valid, t.invalid,
                versus.c_str(), i == 0 ? "-" : std::to_string(t.only_peer_valid).c_str(),
                t.ratio_sum / static_cast<double>(geometries.size()), violations.c_str());
  }
  return 0;
}
