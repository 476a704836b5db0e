#include "core/sizing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>

namespace nvh {
namespace {

Geometry Make(Arch arch, NamespaceMode mode, std::uint64_t backing, std::uint64_t align = 0,
              std::uint64_t label = kMinLabelSize, std::uint64_t hotplug_block = 0) {
  return Geometry{backing, mode, align, label, arch, hotplug_block};
}

struct TableCase {
  const char* what;
  Geometry geometry;
  Layout expected;
};

// Every expected number below was worked out by hand from the rules in
// sizing.cc; the comment shows the arithmetic.
const TableCase kTable[] = {
    // The real devdax namespace of tests/data (502 MiB usable): 502M - 128K
    // leaves 3 blocks of 128M; S = alignUp(384M + 128K, 2M) = 386M.
    {"x86 devdax 502M/2M", Make(Arch::kX86_64, NamespaceMode::kDevdax, 526385152, 2 * MiB),
     Layout{386 * MiB, 128 * KiB, 2 * MiB, 384 * MiB, true}},
    // Same size in fsdax: page-cache backed, no <pmem/>.
    {"x86 fsdax 502M", Make(Arch::kX86_64, NamespaceMode::kFsdax, 526385152, 2 * MiB),
     Layout{386 * MiB, 128 * KiB, 2 * MiB, 384 * MiB, false}},
    // Real sector namespace 267091968 = 254.71875M: alignDown(., 2M) = 254M,
    // 254M - 128K -> one block.
    {"x86 sector 254.7M", Make(Arch::kX86_64, NamespaceMode::kSector, 267091968),
     Layout{130 * MiB, 128 * KiB, 2 * MiB, 128 * MiB, false}},
    // Raw 256M exactly: the label costs a whole block.
    {"x86 raw 256M", Make(Arch::kX86_64, NamespaceMode::kRaw, 256 * MiB),
     Layout{130 * MiB, 128 * KiB, 2 * MiB, 128 * MiB, false}},
    // Raw 258M: 258M - 128K still holds two blocks; S = 258M exactly.
    {"x86 raw 258M", Make(Arch::kX86_64, NamespaceMode::kRaw, 258 * MiB),
     Layout{258 * MiB, 128 * KiB, 2 * MiB, 256 * MiB, false}},
    // 1 GiB devdax alignment: S must be a 1G multiple, A = 1G; 3G+100M -> 3G
    // usable; 3G - 128K -> 2G guest; S = alignUp(2G + 128K, 1G) = 3G.
    {"x86 devdax 1G align", Make(Arch::kX86_64, NamespaceMode::kDevdax, 3 * GiB + 100 * MiB, GiB),
     Layout{3 * GiB, 128 * KiB, GiB, 2 * GiB, true}},
    // A 1 MiB label: 512M - 1M -> 384M; S = alignUp(385M, 2M) = 386M.
    {"x86 raw 1M label", Make(Arch::kX86_64, NamespaceMode::kRaw, 512 * MiB, 0, MiB),
     Layout{386 * MiB, MiB, 2 * MiB, 384 * MiB, false}},
    // 4K devdax alignment still gets a 2M alignsize.
    {"x86 devdax 4K align", Make(Arch::kX86_64, NamespaceMode::kDevdax, 300 * MiB, 4 * KiB),
     Layout{258 * MiB, 128 * KiB, 2 * MiB, 256 * MiB, true}},
    // aarch64: 128 MiB blocks (4K-page guests). 2G+10M - 128K -> 2G;
    // S = 2G + 2M <= D.
    {"aarch64 devdax", Make(Arch::kAarch64, NamespaceMode::kDevdax, 2 * GiB + 10 * MiB, 2 * MiB),
     Layout{2 * GiB + 2 * MiB, 128 * KiB, 2 * MiB, 2 * GiB, true}},
    // aarch64 512M: 512M - 128K -> 384M (with 1 GiB blocks it was refused).
    {"aarch64 raw 512M", Make(Arch::kAarch64, NamespaceMode::kRaw, 512 * MiB),
     Layout{386 * MiB, 128 * KiB, 2 * MiB, 384 * MiB, false}},
    // aarch64 label 132K rounds up to the 64K granule: 192K.
    {"aarch64 raw 132K label", Make(Arch::kAarch64, NamespaceMode::kRaw, GiB, 0, 132 * KiB),
     Layout{898 * MiB, 192 * KiB, 2 * MiB, 896 * MiB, false}},
    // A guest whose kernel uses 1 GiB blocks (annotation hotplug-block=1GiB):
    // 2G+10M - 128K -> 2G, but 1500M -> 1G.
    {"aarch64 1G blocks",
     Make(Arch::kAarch64, NamespaceMode::kRaw, 1500 * MiB, 0, kMinLabelSize, GiB),
     Layout{GiB + 2 * MiB, 128 * KiB, 2 * MiB, GiB, false}},
    // x86_64 with 64 GiB+ of boot memory: 2 GiB blocks. 3G - 128K -> 2G.
    {"x86 2G blocks",
     Make(Arch::kX86_64, NamespaceMode::kDevdax, 3 * GiB, 2 * MiB, kMinLabelSize, 2 * GiB),
     Layout{2 * GiB + 2 * MiB, 128 * KiB, 2 * MiB, 2 * GiB, true}},
    // hotplug-block="none": only A matters. 1000M -> alignDown(1000M - 128K, 2M) = 998M.
    {"x86 no hot plug",
     Make(Arch::kX86_64, NamespaceMode::kRaw, 1000 * MiB, 0, kMinLabelSize, kNoHotplug),
     Layout{1000 * MiB, 128 * KiB, 2 * MiB, 998 * MiB, false}},
    // ppc64 without hot plug still has 256 MiB SCM blocks: 1G -> 768M.
    {"ppc64 no hot plug",
     Make(Arch::kPpc64, NamespaceMode::kRaw, GiB, 0, kMinLabelSize, kNoHotplug),
     Layout{768 * MiB + 128 * KiB, 128 * KiB, 2 * MiB, 768 * MiB, false}},
    // ppc64 raw 1G: S - L must be a 256M multiple: 1G - 128K -> 768M.
    {"ppc64 raw 1G", Make(Arch::kPpc64, NamespaceMode::kRaw, GiB),
     Layout{768 * MiB + 128 * KiB, 128 * KiB, 2 * MiB, 768 * MiB, false}},
    // ppc64 raw 1G + 128K: the label fits behind a full 1G.
    {"ppc64 raw 1G+128K", Make(Arch::kPpc64, NamespaceMode::kRaw, GiB + 128 * KiB),
     Layout{GiB + 128 * KiB, 128 * KiB, 2 * MiB, GiB, false}},
    // ppc64 devdax 16M align: S % 16M and (S - L) % 256M force L % 16M == 0,
    // so the label grows to 16M: 1G - 16M -> 768M; S = 784M.
    {"ppc64 devdax 16M", Make(Arch::kPpc64, NamespaceMode::kDevdax, GiB, 16 * MiB),
     Layout{784 * MiB, 16 * MiB, 16 * MiB, 768 * MiB, true}},
    // ppc64 devdax 1G align: S % 1G and (S - L) % 256M need L % 256M == 0
    // only: L = 256M; 3G - 256M -> 2G; S = alignUp(2G + 256M, 1G) = 3G, the
    // same S and G a 1G label gives (checked in QEMU and libvirt).
    {"ppc64 devdax 1G", Make(Arch::kPpc64, NamespaceMode::kDevdax, 3 * GiB, GiB),
     Layout{3 * GiB, 256 * MiB, GiB, 2 * GiB, true}},
    // 1 GiB devdax on ppc64: the smallest valid namespace is 2G (G = 1G).
    {"ppc64 devdax 1G of 2G", Make(Arch::kPpc64, NamespaceMode::kDevdax, 2 * GiB, GiB),
     Layout{2 * GiB, 256 * MiB, GiB, GiB, true}},
    // ppc64 label 100K is rounded up to the 64K granule... from 128K minimum:
    // a 192K request stays 192K (a 64K multiple).
    {"ppc64 raw 192K label", Make(Arch::kPpc64, NamespaceMode::kRaw, GiB, 0, 192 * KiB),
     Layout{768 * MiB + 192 * KiB, 192 * KiB, 2 * MiB, 768 * MiB, false}},
};

TEST(Sizing, TableOfHandCheckedGeometries) {
  for (const TableCase& c : kTable) {
    SCOPED_TRACE(c.what);
    auto layout = ComputeLayout(c.geometry);
    ASSERT_TRUE(layout) << layout.error().message;
    EXPECT_EQ(layout->target_size, c.expected.target_size);
    EXPECT_EQ(layout->label_size, c.expected.label_size);
    EXPECT_EQ(layout->align_size, c.expected.align_size);
    EXPECT_EQ(layout->guest_size, c.expected.guest_size);
    EXPECT_EQ(layout->pmem, c.expected.pmem);
    EXPECT_TRUE(CheckLayout(c.geometry, *layout).empty());
  }
}

TEST(Sizing, PlannedLabelRoundsToTheGranule) {
  EXPECT_EQ(PlannedLabelSize(Make(Arch::kAarch64, NamespaceMode::kRaw, GiB, 0, 132 * KiB)),
            192 * KiB);
  EXPECT_EQ(PlannedLabelSize(Make(Arch::kAarch64, NamespaceMode::kRaw, GiB, 0, 196 * KiB)),
            256 * KiB);
  EXPECT_EQ(PlannedLabelSize(Make(Arch::kX86_64, NamespaceMode::kRaw, GiB, 0, 132 * KiB)),
            132 * KiB);
  EXPECT_EQ(PlannedLabelSize(Make(Arch::kPpc64, NamespaceMode::kDevdax, GiB, 2 * MiB)), 2 * MiB);
  EXPECT_EQ(PlannedLabelSize(Make(Arch::kPpc64, NamespaceMode::kDevdax, GiB, GiB)), 256 * MiB);
  // 196K on aarch64 used to be "internal error: planned layout breaks a rule".
  auto layout =
      ComputeLayout(Make(Arch::kAarch64, NamespaceMode::kDevdax, GiB, 2 * MiB, 196 * KiB));
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->label_size, 256 * KiB);
}

TEST(Sizing, LibvirtAndQemuAdjustmentsAreFixedPoints) {
  for (const TableCase& c : kTable) {
    SCOPED_TRACE(c.what);
    auto layout = ComputeLayout(c.geometry);
    ASSERT_TRUE(layout);
    EXPECT_EQ(LibvirtAdjustedTargetSize(c.geometry.arch, layout->target_size, layout->label_size),
              layout->target_size);
    EXPECT_EQ(QemuGuestSize(layout->target_size, layout->label_size, layout->align_size),
              layout->guest_size);
  }
}

TEST(Sizing, TooSmallNamespaceNamesTheNeed) {
  auto layout = ComputeLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, 128 * MiB, 2 * MiB));
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().kind, ErrorKind::kUnsatisfiable);
  EXPECT_NE(layout.error().message.find("needs at least 130 MiB"), std::string::npos)
      << layout.error().message;
  EXPECT_NE(layout.error().message.find("devdax namespace of 128 MiB"), std::string::npos);
}

TEST(Sizing, Ppc64BelowMinimumIsRefused) {
  auto layout = ComputeLayout(Make(Arch::kPpc64, NamespaceMode::kRaw, 256 * MiB));
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().message.find("256 MiB"), std::string::npos);
}

TEST(Sizing, LabelBelowMinimumIsInvalid) {
  auto layout = ComputeLayout(Make(Arch::kX86_64, NamespaceMode::kRaw, GiB, 0, 64 * KiB));
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(layout.error().message.find("64 KiB"), std::string::npos);
}

TEST(Sizing, LabelOffPageIsInvalid) {
  auto layout = ComputeLayout(Make(Arch::kX86_64, NamespaceMode::kRaw, GiB, 0, 130 * KiB));
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().message.find("130 KiB"), std::string::npos);
}

TEST(Sizing, DevdaxAlignMustBePowerOfTwo) {
  auto layout = ComputeLayout(Make(Arch::kX86_64, NamespaceMode::kDevdax, GiB, 3 * MiB));
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().message.find("3145728"), std::string::npos);
}

TEST(Sizing, CheckLayoutNamesEachBrokenRule) {
  const Geometry g = Make(Arch::kX86_64, NamespaceMode::kDevdax, 512 * MiB, 2 * MiB);
  // A hand-written device: full size, 128K label, no alignsize, no <pmem/>.
  const Layout bad{512 * MiB + 1 * MiB, 64 * KiB, 4 * KiB, 512 * MiB, false};
  std::vector<Constraint> broken;
  for (const Violation& v : CheckLayout(g, bad)) broken.push_back(v.constraint);
  for (Constraint expected :
       {Constraint::kLabelMinimum, Constraint::kDaxMapAlign, Constraint::kDaxMapLength,
        Constraint::kFitsBacking, Constraint::kLibvirtRounding, Constraint::kHotplugBlock,
        Constraint::kGuestSizeMatches, Constraint::kPmemOnlyForDax}) {
    EXPECT_NE(std::find(broken.begin(), broken.end(), expected), broken.end())
        << ConstraintName(expected);
  }
  EXPECT_FALSE(IsValidLayout(g, bad));
}

// ---- Brute force -----------------------------------------------------------
//
// Searches every (S, L, A) that could be valid for a layout that beats the
// planner's: a larger guest size, or the same guest size with a smaller target.
// S runs over every multiple of 64 KiB up to D (every valid S is one: x86 and
// aarch64 need libvirt's 2 MiB, ppc64 256 MiB multiples plus a 64K-granular
// label); A over the powers of two from 4 KiB to 1 GiB that a namespace or
// hugepage can ask for; L over the requested label and every value a larger
// label could usefully take. For one (L, A), QEMU's guest size only shrinks as
// S does, so the descent stops once it falls below the bar.

struct Found {
  bool any = false;
  Layout layout;
};

Found FindBetter(const Geometry& g, std::uint64_t bar_guest, std::uint64_t bar_target) {
  constexpr std::uint64_t kStep = 64 * KiB;
  std::vector<std::uint64_t> labels = {g.label_size, g.label_size + 4 * KiB,
                                       (g.label_size + kStep - 1) / kStep * kStep};
  for (std::uint64_t a : {2 * MiB, 16 * MiB, 256 * MiB, GiB}) {
    if (a >= g.label_size) labels.push_back(a);
  }
  if (g.device_align > g.label_size) labels.push_back(g.device_align);
  for (std::uint64_t align : {4 * KiB, 64 * KiB, 2 * MiB, 16 * MiB, 256 * MiB, GiB}) {
    for (std::uint64_t label : labels) {
      for (std::uint64_t s = g.backing_size / kStep * kStep; s > label; s -= kStep) {
        const std::uint64_t guest = QemuGuestSize(s, label, align);
        if (guest == 0 || guest < bar_guest) break;
        const Layout candidate{s, label, align, guest, g.mode == NamespaceMode::kDevdax};
        if (!IsValidLayout(g, candidate)) continue;
        if (guest > bar_guest || s < bar_target) return {true, candidate};
      }
    }
  }
  return {};
}

std::vector<Geometry> Geometries() {
  std::vector<Geometry> out;
  std::mt19937_64 random(20261126);
  std::vector<std::uint64_t> sizes;
  constexpr std::uint64_t kMiBs[] = {130,  254,  256,  258,  384,  500,  502,  512,  514,  640,
                                     1024, 1026, 1152, 1280, 1536, 2048, 2050, 2304, 3072, 3200};
  for (std::uint64_t mib : kMiBs) {
    sizes.push_back(mib * MiB);
    sizes.push_back(mib * MiB + 128 * KiB);
  }
  // Odd sizes like real namespaces (memmap reservations leave them off-grid).
  for (int i = 0; i < 20; ++i) sizes.push_back(130 * MiB + random() % (3 * GiB) / 4096 * 4096);

  struct ModeAlign {
    NamespaceMode mode;
    std::uint64_t align;
  };
  const std::array<ModeAlign, 7> kinds{{{NamespaceMode::kRaw, 0},
                                        {NamespaceMode::kSector, 0},
                                        {NamespaceMode::kFsdax, 2 * MiB},
                                        {NamespaceMode::kDevdax, 4 * KiB},
                                        {NamespaceMode::kDevdax, 2 * MiB},
                                        {NamespaceMode::kDevdax, 16 * MiB},
                                        {NamespaceMode::kDevdax, GiB}}};
  for (Arch arch : {Arch::kX86_64, Arch::kAarch64, Arch::kPpc64}) {
    for (const ModeAlign& kind : kinds) {
      // 132 KiB: not a multiple of the 64 KiB granule of aarch64 and ppc64.
      for (std::uint64_t label : {128 * KiB, 132 * KiB, 256 * KiB, 2 * MiB}) {
        for (std::uint64_t size : sizes)
          out.push_back(Make(arch, kind.mode, size, kind.align, label));
      }
      // Guests with other memory blocks: 1 GiB, 2 GiB, none.
      for (std::uint64_t block : {GiB, 2 * GiB, kNoHotplug}) {
        for (std::uint64_t size : sizes)
          out.push_back(Make(arch, kind.mode, size, kind.align, kMinLabelSize, block));
      }
    }
  }
  return out;
}

TEST(SizingBruteForce, EveryConstraintHoldsAndNoLargerGuestExists) {
  const std::vector<Geometry> geometries = Geometries();
  ASSERT_GE(geometries.size(), 3000u);
  int planned = 0;
  for (const Geometry& g : geometries) {
    SCOPED_TRACE(std::string(ArchName(g.arch)) + " " + std::string(ModeName(g.mode)) + " D=" +
                 std::to_string(g.backing_size) + " Adev=" + std::to_string(g.device_align) +
                 " L=" + std::to_string(g.label_size) + " H=" + std::to_string(g.hotplug_block));
    auto layout = ComputeLayout(g);
    // Refused: no valid layout may exist at all (bar: any guest size).
    const Found better =
        layout ? FindBetter(g, layout->guest_size, layout->target_size) : FindBetter(g, 1, ~0ULL);
    EXPECT_FALSE(better.any) << "found S=" << better.layout.target_size
                             << " L=" << better.layout.label_size
                             << " A=" << better.layout.align_size
                             << " G=" << better.layout.guest_size;
    if (!layout) continue;
    ++planned;
    EXPECT_TRUE(CheckLayout(g, *layout).empty());
  }
  EXPECT_GE(planned, 2500);
}

// The search must be able to find something, or the test above proves nothing.
TEST(SizingBruteForce, SearchFindsLayoutsWhenTheBarIsLow) {
  const Geometry g = Make(Arch::kX86_64, NamespaceMode::kDevdax, 526385152, 2 * MiB);
  const Found found = FindBetter(g, 1, ~0ULL);
  ASSERT_TRUE(found.any);
  EXPECT_TRUE(IsValidLayout(g, found.layout));
  // A bar one block above the optimum is out of reach.
  EXPECT_FALSE(FindBetter(g, 512 * MiB, ~0ULL).any);
}

}  // namespace
}  // namespace nvh
