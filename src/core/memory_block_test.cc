#include "core/memory_block.h"

#include <gtest/gtest.h>

#include "core/sizing.h"

namespace nvh {
namespace {

Domain X86(const std::string& machine, std::uint64_t ram) {
  Domain domain;
  domain.name = "vm1";
  domain.machine = machine;
  domain.numa_cells = {NumaCell{0, ram}};
  return domain;
}

// QEMU 7.2's splits, worked by hand from pc_init1 / pc_q35_init.
TEST(MemoryBlock, X86BootMemoryEndFollowsQemusSplit) {
  // pc: fits below 3.5 GiB, else 3 GiB below, the rest from 4 GiB.
  EXPECT_EQ(X86BootMemoryEnd("pc", 3 * GiB), 3 * GiB);
  EXPECT_EQ(X86BootMemoryEnd("pc-i440fx-7.2", 3 * GiB + 512 * MiB), 4 * GiB + 512 * MiB);
  EXPECT_EQ(X86BootMemoryEnd("pc", 4 * GiB), 5 * GiB);
  EXPECT_EQ(X86BootMemoryEnd("", 64 * GiB), 65 * GiB);  // libvirt's default is pc
  // pc-i440fx-1.7 and older keep the 3.5 GiB split (no gigabyte_align).
  EXPECT_EQ(X86BootMemoryEnd("pc-i440fx-1.7", 64 * GiB), 64 * GiB + 512 * MiB);
  // q35: below 2.75 GiB all low, else 2 GiB below.
  EXPECT_EQ(X86BootMemoryEnd("q35", 2 * GiB + 512 * MiB), 2 * GiB + 512 * MiB);
  EXPECT_EQ(X86BootMemoryEnd("pc-q35-7.2", 0xb0000000ULL), 4 * GiB + 768 * MiB);
  EXPECT_EQ(X86BootMemoryEnd("pc-q35-7.2", 64 * GiB), 66 * GiB);
  EXPECT_FALSE(X86BootMemoryEnd("microvm", 4 * GiB));
}

TEST(MemoryBlock, X86BlockIsLinuxProbeMemoryBlockSize) {
  EXPECT_EQ(X86MemoryBlock(5 * GiB), 128 * MiB);
  EXPECT_EQ(X86MemoryBlock(64 * GiB - 128 * MiB), 128 * MiB);
  EXPECT_EQ(X86MemoryBlock(64 * GiB), 2 * GiB);
  EXPECT_EQ(X86MemoryBlock(65 * GiB), 1 * GiB);
  EXPECT_EQ(X86MemoryBlock(64 * GiB + 512 * MiB), 512 * MiB);
  EXPECT_EQ(X86MemoryBlock(66 * GiB), 2 * GiB);
  EXPECT_EQ(X86MemoryBlock(64 * GiB + 128 * MiB), 128 * MiB);
}

TEST(MemoryBlock, PerDomainOnX86) {
  struct Case {
    const char* machine;
    std::uint64_t ram;
    std::uint64_t block;
  };
  const Case cases[] = {
      {"pc", 4 * GiB, 128 * MiB},        {"q35", 4 * GiB, 128 * MiB},
      {"q35", 64 * GiB, 2 * GiB},         // measured: FACTS.md, Debian 6.1 guest
      {"pc", 64 * GiB, 1 * GiB},          // ends at 65 GiB
      {"pc-q35-7.2", 62 * GiB, 2 * GiB},  // ends at exactly 64 GiB
      {"pc", 61 * GiB, 128 * MiB},        // ends at 62 GiB
      {"pc", 63 * GiB, 2 * GiB},          // ends at 64 GiB
      {"q35", 65 * GiB, 1 * GiB},         // 67 GiB
      {"microvm", 8 * GiB, 128 * MiB},    // any map ends below 64 GiB
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.machine) + " " + std::to_string(c.ram >> 20) + " MiB");
    auto block = GuestMemoryBlock(X86(c.machine, c.ram));
    ASSERT_TRUE(block) << block.error().message;
    EXPECT_EQ(block->bytes, c.block) << block->reason;
    EXPECT_FALSE(block->reason.empty());
  }
}

TEST(MemoryBlock, UnknownMapOfALargeGuestNamesTheAttribute) {
  auto block = GuestMemoryBlock(X86("microvm", 100 * GiB));
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(block.error().message.find("domain 'vm1'"), std::string::npos);
  EXPECT_NE(block.error().message.find("microvm"), std::string::npos);
  EXPECT_NE(block.error().message.find("hotplug-block"), std::string::npos);
}

TEST(MemoryBlock, OtherArchitecturesAndTheAnnotation) {
  Domain domain = X86("virt", 4 * GiB);
  domain.arch = Arch::kAarch64;
  EXPECT_EQ(GuestMemoryBlock(domain)->bytes, 128 * MiB);
  domain.arch = Arch::kPpc64;
  domain.machine = "pseries";
  EXPECT_EQ(GuestMemoryBlock(domain)->bytes, 256 * MiB);
  domain.annotation = Annotation{};
  domain.annotation->hotplug_block = GiB;
  EXPECT_EQ(GuestMemoryBlock(domain)->bytes, GiB);
  domain.annotation->hotplug_block = 0;
  EXPECT_EQ(GuestMemoryBlock(domain)->bytes, kNoHotplug);
  // The override also settles an unknown x86 map.
  Domain big = X86("microvm", 100 * GiB);
  big.annotation = Annotation{};
  big.annotation->hotplug_block = 2 * GiB;
  EXPECT_EQ(GuestMemoryBlock(big)->bytes, 2 * GiB);
}

TEST(MemoryBlock, BootMemoryIsCellsElseMemoryMinusDevices) {
  Domain domain;
  domain.memory = 4 * GiB + 386 * MiB;
  MemoryDevice nvdimm;
  nvdimm.target_size = 386 * MiB;
  domain.memory_devices = {nvdimm};
  EXPECT_EQ(BootMemory(domain), 4 * GiB);
  domain.numa_cells = {NumaCell{0, GiB}, NumaCell{1, 3 * GiB}};
  EXPECT_EQ(BootMemory(domain), 4 * GiB);
}

}  // namespace
}  // namespace nvh
