#include "core/namespace_usable.h"

#include <gtest/gtest.h>

#include "core/sizing.h"

namespace nvh {
namespace {

// tests/hardware/README.md "Measured" (kernel 6.1, ndctl 76.1, v1.2 labels)
// and FACTS.md: every number the emulated host showed.
TEST(NamespaceUsable, ReproducesTheMeasuredDevdaxAndFsdaxSizes) {
  EXPECT_EQ(PfnUsableSize(512 * MiB, 2 * MiB), 502 * MiB);   // devdax align 2M
  EXPECT_EQ(PfnUsableSize(512 * MiB, 2 * MiB), 526385152u);  // ndctl "size" in FACTS.md
  EXPECT_EQ(PfnUsableSize(640 * MiB, 2 * MiB), 628 * MiB);   // fsdax
  EXPECT_EQ(PfnUsableSize(3 * GiB, GiB), 2 * GiB);           // devdax align 1G
  EXPECT_EQ(PfnUsableSize(16 * MiB, 2 * MiB), 14 * MiB);     // the smallest one seen
}

TEST(NamespaceUsable, MemmapIsSixtyFourBytesPerPagePaddedToTheAlignment) {
  // 640 MiB: 163838 pages * 64 B + 8 KiB = 10493824 B, just over 10 MiB.
  EXPECT_EQ(640 * MiB - PfnUsableSize(640 * MiB, 2 * MiB), 12 * MiB);
  // 1 GiB align: the whole first GiB goes, and a tail below 1 GiB too.
  EXPECT_EQ(PfnUsableSize(GiB + 512 * MiB, GiB), 0u);
  EXPECT_EQ(PfnUsableSize(2 * GiB, GiB), GiB);
  // A devdax size is a multiple of its alignment.
  for (std::uint64_t n = 256 * MiB; n <= 8 * GiB; n += 16 * MiB) {
    EXPECT_EQ(PfnUsableSize(n, 2 * MiB) % (2 * MiB), 0u) << n;
    EXPECT_EQ(PfnUsableSize(n, GiB) % GiB, 0u) << n;
  }
}

TEST(NamespaceUsable, ReproducesTheMeasuredSectorSizes) {
  // BTT 2.0 (v1.2 labels, what the hardware tests create): 320 MiB.
  EXPECT_EQ(BttUsableSize(320 * MiB), 334139392u);
  // data/ndctl-list-N-v.emulated.json: 256 MiB sector 267091968, which is
  // BTT 1.1 (its info block 4 KiB in): the same formula, initial offset 4 KiB.
  EXPECT_EQ(BttUsableSize(256 * MiB, 4096, 4 * KiB), 267091968u);
  EXPECT_EQ(BttUsableSize(8 * MiB), 0u);  // below ARENA_MIN_SIZE
}

TEST(NamespaceUsable, RawIsTheNamespace) {
  EXPECT_EQ(UsableSize(NamespaceMode::kRaw, 272 * MiB, 0), 272 * MiB);
  EXPECT_EQ(UsableSize(NamespaceMode::kSector, 320 * MiB, 0), 334139392u);
  EXPECT_EQ(UsableSize(NamespaceMode::kFsdax, 640 * MiB, 2 * MiB), 628 * MiB);
  EXPECT_EQ(UsableSize(NamespaceMode::kDevdax, 3 * GiB, GiB), 2 * GiB);
}

}  // namespace
}  // namespace nvh
