// Compares our layouts with oVirt's and Nova's on one grid of realistic
// geometries and prints the Markdown the README shows between
// <!-- sizing-benchmark:begin --> and <!-- sizing-benchmark:end -->
// (scripts/update-readme-benchmark BUILD_DIR puts it there; the
// docs.readme_benchmark test fails when the two differ).
// Run: build/sizing-benchmark.
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/namespace_usable.h"
#include "core/peer_formulas.h"
#include "core/sizing.h"
#include "util/bytes.h"

namespace {

using nvh::Arch;
using nvh::GiB;
using nvh::MiB;
using nvh::NamespaceMode;

struct Kind {
  NamespaceMode mode;
  std::uint64_t align;
  const char* name;
};

constexpr std::array<Kind, 5> kKinds = {{{NamespaceMode::kRaw, 0, "raw"},
                                         {NamespaceMode::kSector, 0, "sector"},
                                         {NamespaceMode::kFsdax, 2 * MiB, "fsdax 2M"},
                                         {NamespaceMode::kDevdax, 2 * MiB, "devdax 2M"},
                                         {NamespaceMode::kDevdax, GiB, "devdax 1G"}}};
constexpr std::uint64_t kRegionAlign = 16 * MiB;  // FACTS.md: namespace sizes step
constexpr std::uint64_t kMinNamespace = 256 * MiB;
constexpr std::uint64_t kMaxNamespace = 64 * GiB;

struct Case {
  nvh::Geometry geometry;
  std::size_t kind = 0;
};

struct Tally {
  int supported = 0;
  int unsupported = 0;
  int valid = 0;
  int invalid = 0;
  int starts = 0;        // supported, and nothing libvirt, QEMU or device DAX refuses
  double ratio_sum = 0;  // guest/backing over supported geometries, 0 where it cannot start
  int ours_larger = 0;   // against ours, where both are valid
  int equal = 0;
  int ours_smaller = 0;
  int only_peer_valid = 0;  // we refuse, the peer's layout is valid
  std::map<std::string, int> broken;
  std::array<std::array<int, 2>, kKinds.size()> per_kind{};  // {valid, supported}
};

std::vector<Case> Grid() {
  std::vector<Case> cases;
  for (Arch arch : {Arch::kX86_64, Arch::kAarch64, Arch::kPpc64}) {
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
      // ndctl: a namespace size is a multiple of the region alignment and,
      // for devdax/fsdax, of the device alignment (FACTS.md "-a 1G needs
      // sizes that are multiples of 1 GiB").
      const std::uint64_t step = std::max(kRegionAlign, kKinds[k].align);
      for (std::uint64_t n = kMinNamespace; n <= kMaxNamespace; n += step) {
        const std::uint64_t d = nvh::UsableSize(kKinds[k].mode, n, kKinds[k].align);
        if (d == 0) continue;  // the kernel refuses to create it
        cases.push_back({{d, kKinds[k].mode, kKinds[k].align, nvh::kMinLabelSize, arch}, k});
      }
    }
  }
  return cases;
}

// Rules whose breach still lets the guest start: later DIMM hot plug fails,
// or <pmem/> claims DAX for a page-cache-backed device.
bool StillStarts(const std::vector<nvh::Violation>& broken) {
  return std::ranges::all_of(broken, [](const nvh::Violation& v) {
    return v.constraint == nvh::Constraint::kHotplugBlock ||
           v.constraint == nvh::Constraint::kPmemOnlyForDax;
  });
}

std::string Joined(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [name, count] : counts) {
    out += (out.empty() ? "" : ", ") + name + " " + std::to_string(count);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

int main() {
  const std::vector<Case> cases = Grid();
  const nvh::Peer peers[] = {nvh::Peer::kOvirt, nvh::Peer::kNova};
  Tally ours;
  Tally tallies[2];
  for (const Case& c : cases) {
    const nvh::Geometry& g = c.geometry;
    auto planned = nvh::ComputeLayout(g);
    ++ours.supported;
    ++ours.per_kind[c.kind][1];
    if (planned) {
      ++ours.valid;
      ++ours.starts;
      ++ours.per_kind[c.kind][0];
      ours.ratio_sum +=
          static_cast<double>(planned->guest_size) / static_cast<double>(g.backing_size);
    } else {
      ++ours.invalid;
    }
    for (int i = 0; i < 2; ++i) {
      Tally& t = tallies[i];
      const nvh::PeerLayout p = nvh::PeerLayoutFor(peers[i], g);
      if (!p.supported) {
        ++t.unsupported;
        continue;
      }
      ++t.supported;
      ++t.per_kind[c.kind][1];
      if (StillStarts(p.broken)) {
        ++t.starts;
        t.ratio_sum += static_cast<double>(p.guest_size) / static_cast<double>(g.backing_size);
      }
      for (const nvh::Violation& v : p.broken)
        ++t.broken[std::string(nvh::ConstraintName(v.constraint))];
      if (!p.Valid()) {
        ++t.invalid;
        continue;
      }
      ++t.valid;
      ++t.per_kind[c.kind][0];
      if (!planned) {
        ++t.only_peer_valid;
      } else if (planned->guest_size > p.guest_size) {
        ++t.ours_larger;
      } else if (planned->guest_size == p.guest_size) {
        ++t.equal;
      } else {
        ++t.ours_smaller;
      }
    }
  }

  std::printf(
      "%zu geometries: {x86_64, aarch64, ppc64} x {raw, sector, fsdax align 2M, devdax align 2M,\n"
      "devdax align 1G} x namespaces every 16 MiB (1 GiB for devdax 1G) from 256 MiB to 64 GiB,\n"
      "each at the usable size an x86_64 host kernel leaves (src/core/namespace_usable.h: memmap\n"
      "64 B per 4 KiB page padded to the alignment, BTT overhead for sector), label 128 KiB. A "
      "layout is\n"
      "valid when no rule of sizing.cc breaks after libvirt's own rounding (hot plug excepted\n"
      "for Nova, which fills every memory slot with vPMEMs); guest size is what QEMU computes.\n"
      "\"starts\": no rule broken that libvirt, QEMU or device DAX refuses (hotplug-block and\n"
      "pmem-only-for-dax break later hot plug and the persistence claim, not the start).\n\n",
      cases.size());
  std::printf(
      "| formula | supported | not supported | valid | invalid | starts | both valid: ours larger "
      "/ equal "
      "/ ours smaller | valid where we refuse | mean guest/usable over supported (0 where it "
      "cannot start) "
      "| rules broken (count) |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf(
      "| nvdimm-hook | %d | 0 | %d | %d | %d | - | - | %.4f | none; refused as too small: %d |\n",
      ours.supported, ours.valid, ours.invalid, ours.starts,
      ours.ratio_sum / static_cast<double>(ours.supported), ours.invalid);
  const char* names[] = {"oVirt", "Nova"};
  for (int i = 0; i < 2; ++i) {
    const Tally& t = tallies[i];
    std::printf("| %s | %d | %d | %d | %d | %d | %d / %d / %d | %d | %.4f | %s |\n", names[i],
                t.supported, t.unsupported, t.valid, t.invalid, t.starts, t.ours_larger, t.equal,
                t.ours_smaller, t.only_peer_valid,
                t.supported ? t.ratio_sum / static_cast<double>(t.supported) : 0.0,
                Joined(t.broken).c_str());
  }
  std::printf("\nValid layouts per mode (valid / supported; - = not supported):\n\n| formula |");
  for (const Kind& k : kKinds) std::printf(" %s |", k.name);
  std::printf("\n|---|");
  for (std::size_t k = 0; k < kKinds.size(); ++k) std::printf("---|");
  std::printf("\n");
  const Tally* rows[] = {&ours, &tallies[0], &tallies[1]};
  const char* row_names[] = {"nvdimm-hook", "oVirt", "Nova"};
  for (int r = 0; r < 3; ++r) {
    std::printf("| %s |", row_names[r]);
    for (const auto& [valid, supported] : rows[r]->per_kind) {
      if (supported == 0) {
        std::printf(" - |");
      } else {
        std::printf(" %d / %d |", valid, supported);
      }
    }
    std::printf("\n");
  }
  return 0;
}
