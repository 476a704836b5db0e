#include "core/peer_formulas.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/namespace_usable.h"

namespace nvh {
namespace {

Geometry Make(Arch arch, NamespaceMode mode, std::uint64_t d, std::uint64_t align = 0) {
  return {d, mode, align, kMinLabelSize, arch};
}

std::vector<Constraint> Broken(const PeerLayout& p) {
  std::vector<Constraint> out;
  for (const Violation& v : p.broken) out.push_back(v.constraint);
  return out;
}

// ---- oVirt: one test per branch of getNvdimmAlignedSize ----------------------

// H % A == 0: x86_64 devdax 2 MiB of 502 MiB (a 512 MiB namespace).
// size = alignDown(502M, 128M) = 384M; q = alignDown(384M - 128K, 2M) = 382M;
// size -= 382M % 128M (126M) -> 258M; guest alignDown(258M - 128K, 2M) = 256M.
TEST(OvirtFormula, TrimsTheGuestAreaToTheHotplugFactor) {
  const PeerLayout p = OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 502 * MiB, 2 * MiB));
  ASSERT_TRUE(p.supported);
  EXPECT_EQ(p.written.target_size, 258 * MiB);
  EXPECT_EQ(p.written.label_size, 128 * KiB);
  EXPECT_EQ(p.written.align_size, 2 * MiB);
  EXPECT_TRUE(p.written.pmem);
  EXPECT_TRUE(p.access_shared);
  EXPECT_EQ(p.libvirt_target_size, 258 * MiB);
  EXPECT_EQ(p.guest_size, 256 * MiB);
  EXPECT_TRUE(p.broken.empty());
  EXPECT_TRUE(p.Valid());
  // We keep the block oVirt trims: 384 MiB.
  EXPECT_EQ(
      ComputeLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 502 * MiB, 2 * MiB))->guest_size,
      384 * MiB);
}

// A % H == 0, A > H: devdax 1 GiB of 2 GiB (3 GiB namespace) and 4 GiB (5 GiB):
// size = alignDown(D, 128M) = D, no trim, alignsize 1 GiB.
TEST(OvirtFormula, KeepsAOneGibAlignmentWithoutTrim) {
  const PeerLayout two = OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 2 * GiB, GiB));
  ASSERT_TRUE(two.supported);
  EXPECT_EQ(two.written.target_size, 2 * GiB);
  EXPECT_EQ(two.written.align_size, GiB);
  EXPECT_EQ(two.guest_size, GiB);  // alignDown(2G - 128K, 1G)
  EXPECT_TRUE(two.Valid());
  const PeerLayout four = OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 4 * GiB, GiB));
  EXPECT_EQ(four.written.target_size, 4 * GiB);
  EXPECT_EQ(four.guest_size, 3 * GiB);
  EXPECT_TRUE(four.Valid());
}

// No align reported (raw, sector: vdsm sends none) -> A = H = 128 MiB.
// raw 1000 MiB: size = 896M; q = alignDown(896M - 128K, 128M) = 768M; trim 0.
TEST(OvirtFormula, UsesTheHotplugFactorWhenNoAlignIsReported) {
  const PeerLayout p = OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kRaw, 1000 * MiB));
  ASSERT_TRUE(p.supported);
  EXPECT_EQ(p.written.align_size, 128 * MiB);
  EXPECT_EQ(p.written.target_size, 896 * MiB);
  EXPECT_EQ(p.guest_size, 768 * MiB);
  // Always <pmem/>: on a page-cache-backed block device that claims DAX.
  EXPECT_EQ(Broken(p), std::vector<Constraint>{Constraint::kPmemOnlyForDax});
  const PeerLayout sector = OvirtLayout(
      Make(Arch::kX86_64, NamespaceMode::kSector, UsableSize(NamespaceMode::kSector, GiB, 0)));
  EXPECT_EQ(sector.written.align_size, 128 * MiB);
}

// Neither A % H nor H % A: getNvdimmAlignedSize returns null, the device is
// left out (ndctl aligns are powers of two, so this needs a made-up one).
TEST(OvirtFormula, RefusesAnAlignmentThatIsNoMultipleOrDivisorOfTheFactor) {
  const PeerLayout p = OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 2 * GiB, 192 * MiB));
  EXPECT_FALSE(p.supported);
  EXPECT_NE(p.reason.find("refuses alignment"), std::string::npos);
}

// ppc64: H = 256 MiB and the label goes on top. raw 1 GiB: size = 1G + 128K,
// q = 1G, trim 0: the target is 128 KiB larger than the namespace.
TEST(OvirtFormula, Ppc64AddsTheLabelAndOverflowsAnAlignedNamespace) {
  const PeerLayout p = OvirtLayout(Make(Arch::kPpc64, NamespaceMode::kRaw, GiB));
  ASSERT_TRUE(p.supported);
  EXPECT_EQ(p.written.target_size, GiB + 128 * KiB);
  EXPECT_EQ(p.written.align_size, 256 * MiB);
  EXPECT_EQ(p.libvirt_target_size, GiB + 128 * KiB);
  EXPECT_EQ(p.guest_size, GiB);
  const auto broken = Broken(p);
  EXPECT_NE(std::find(broken.begin(), broken.end(), Constraint::kFitsBacking), broken.end());
  // 1 GiB + 64 MiB fits.
  const PeerLayout fits = OvirtLayout(Make(Arch::kPpc64, NamespaceMode::kRaw, GiB + 64 * MiB));
  EXPECT_EQ(fits.written.target_size, GiB + 128 * KiB);
  EXPECT_EQ(Broken(fits), std::vector<Constraint>{Constraint::kPmemOnlyForDax});
}

// ppc64 devdax 2 MiB of 1006 MiB (1 GiB namespace): size = 768M + 128K,
// q = 768M, trim 0; device DAX refuses the 768M + 128K mapping.
TEST(OvirtFormula, Ppc64DevdaxTargetIsNoMultipleOfTheDeviceAlignment) {
  const std::uint64_t d = UsableSize(NamespaceMode::kDevdax, GiB, 2 * MiB);
  ASSERT_EQ(d, 1006 * MiB);
  const PeerLayout p = OvirtLayout(Make(Arch::kPpc64, NamespaceMode::kDevdax, d, 2 * MiB));
  ASSERT_TRUE(p.supported);
  EXPECT_EQ(p.written.target_size, 768 * MiB + 128 * KiB);
  EXPECT_EQ(p.guest_size, 768 * MiB);
  EXPECT_EQ(Broken(p), std::vector<Constraint>{Constraint::kDaxMapLength});
}

TEST(OvirtFormula, UnsupportedOnAarch64AndWithoutGuestNuma) {
  EXPECT_FALSE(OvirtLayout(Make(Arch::kAarch64, NamespaceMode::kDevdax, 2 * GiB, GiB)).supported);
  PeerGuest no_numa;
  no_numa.has_numa = false;
  const PeerLayout p =
      OvirtLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 2 * GiB, GiB), no_numa);
  EXPECT_FALSE(p.supported);
  EXPECT_NE(p.reason.find("No NUMA node"), std::string::npos);
}

// ---- Nova ----------------------------------------------------------------------

// devdax 2 MiB of 502 MiB: S = D, label 2 MiB, alignsize 2 MiB, guest
// alignDown(502M - 2M, 2M) = 500M; no DIMM hot plug, so no hot-plug rule.
TEST(NovaFormula, TwoMibDevdax) {
  PeerGuest guest;
  guest.nvdimms = 2;
  const PeerLayout p =
      NovaLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 502 * MiB, 2 * MiB), guest);
  ASSERT_TRUE(p.supported);
  EXPECT_EQ(p.written.target_size, 502 * MiB);
  EXPECT_EQ(p.written.label_size, 2 * MiB);
  EXPECT_EQ(p.written.align_size, 2 * MiB);
  EXPECT_TRUE(p.written.pmem);
  EXPECT_EQ(p.node, 0);
  EXPECT_EQ(p.max_memory_slots, 2u);
  EXPECT_FALSE(p.hotplug);
  EXPECT_EQ(p.guest_size, 500 * MiB);
  EXPECT_TRUE(p.Valid());
}

// devdax 1 GiB of 2 GiB and 4 GiB: guests alignDown(D - 2M, 1G) = 1G and 3G.
TEST(NovaFormula, OneGibDevdax) {
  const PeerLayout two = NovaLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 2 * GiB, GiB));
  EXPECT_EQ(two.written.target_size, 2 * GiB);
  EXPECT_EQ(two.written.align_size, GiB);
  EXPECT_EQ(two.guest_size, GiB);
  EXPECT_TRUE(two.Valid());
  const PeerLayout four = NovaLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 4 * GiB, GiB));
  EXPECT_EQ(four.guest_size, 3 * GiB);
  EXPECT_TRUE(four.Valid());
}

// ppc64: libvirt makes S' = alignDown(1006M - 2M, 256M) + 2M = 770M.
TEST(NovaFormula, Ppc64IsRoundedByLibvirt) {
  const PeerLayout p = NovaLayout(Make(Arch::kPpc64, NamespaceMode::kDevdax, 1006 * MiB, 2 * MiB));
  EXPECT_EQ(p.written.target_size, 1006 * MiB);
  EXPECT_EQ(p.libvirt_target_size, 770 * MiB);
  EXPECT_EQ(p.guest_size, 768 * MiB);
  EXPECT_TRUE(p.Valid());
}

TEST(NovaFormula, DevdaxOnly) {
  for (NamespaceMode mode : {NamespaceMode::kRaw, NamespaceMode::kSector, NamespaceMode::kFsdax}) {
    const PeerLayout p = NovaLayout(Make(Arch::kX86_64, mode, GiB, 2 * MiB));
    EXPECT_FALSE(p.supported) << ModeName(mode);
    EXPECT_NE(p.reason.find("devdax"), std::string::npos);
  }
}

// ---- Against ours --------------------------------------------------------------

TEST(PeerFormulas, OursIsNeverSmallerThanAValidOvirtLayout) {
  int valid = 0;
  for (Arch arch : {Arch::kX86_64, Arch::kPpc64}) {
    for (std::uint64_t n = 256 * MiB; n <= 8 * GiB; n += 16 * MiB) {
      using Kind = std::pair<NamespaceMode, std::uint64_t>;
      for (auto [mode, align] :
           {Kind{NamespaceMode::kRaw, 0}, Kind{NamespaceMode::kSector, 0},
            Kind{NamespaceMode::kFsdax, 2 * MiB}, Kind{NamespaceMode::kDevdax, 2 * MiB}}) {
        const Geometry g = Make(arch, mode, UsableSize(mode, n, align), align);
        const PeerLayout p = OvirtLayout(g);
        if (!p.Valid()) continue;
        ++valid;
        auto ours = ComputeLayout(g);
        ASSERT_TRUE(ours) << ArchName(arch) << " " << ModeName(mode) << " " << n;
        EXPECT_GE(ours->guest_size, p.guest_size) << ArchName(arch) << " " << n;
      }
    }
  }
  EXPECT_GT(valid, 100);  // not vacuous
}

}  // namespace
}  // namespace nvh
