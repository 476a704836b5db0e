#include "core/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/plan_testing.h"

namespace nvh {
namespace {

// The real devdax and fsdax namespaces of tests/data (ndctl 76.1, kernel 6.1).
HostNamespaces Inventory() {
  HostNamespace dax;
  dax.dev = "namespace0.0";
  dax.uuid = "c3ced113-e676-47b2-b173-b7f7d08b2206";
  dax.raw_uuid = "d176b610-9961-4820-a23e-948cf53cbd23";
  dax.mode = NamespaceMode::kDevdax;
  dax.size = 526385152;
  dax.align = 2 * MiB;
  dax.numa_node = 1;
  dax.chardev = "dax0.0";
  dax.device_path = "/dev/dax0.0";
  HostNamespace fs;
  fs.dev = "namespace0.1";
  fs.uuid = "97de326a-2191-416f-a39b-be46247ba991";
  fs.mode = NamespaceMode::kFsdax;
  fs.size = 526385152;
  fs.align = 2 * MiB;
  fs.numa_node = 0;
  fs.blockdev = "pmem0.1";
  fs.device_path = "/dev/pmem0.1";
  return {dax, fs};
}

Domain Vm(std::vector<NvdimmRequest> entries) {
  Domain d;
  d.name = "vm1";
  d.uuid = "5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e01";
  d.vcpus = 2;
  d.memory = 1 * GiB;
  d.annotation = Annotation{std::move(entries), std::nullopt};
  return d;
}

NvdimmRequest ByUuid(std::string uuid) {
  return {SelectorKind::kUuid, std::move(uuid), {}, {}};
}

TEST(Plan, ResolvesEachSelectorKindToTheSameNamespace) {
  for (const NvdimmRequest& request :
       {ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206"),
        ByUuid("d176b610-9961-4820-a23e-948cf53cbd23"),  // the label uuid works too
        NvdimmRequest{SelectorKind::kNamespace, "namespace0.0", {}, {}},
        NvdimmRequest{SelectorKind::kPath, "/dev/dax0.0", {}, {}}}) {
    auto plan = MakePlan(Vm({request}), Inventory());
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->devices.size(), 1u);
    EXPECT_EQ(plan->devices[0].host.dev, "namespace0.0");
    EXPECT_EQ(plan->devices[0].layout.target_size, 386 * MiB);
    EXPECT_EQ(plan->devices[0].layout.guest_size, 384 * MiB);
    EXPECT_TRUE(plan->devices[0].layout.pmem);
  }
}

TEST(Plan, MemoryBlockComesFromTheDomain) {
  Domain big = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  big.machine = "pc-q35-7.2";
  big.memory = 64 * GiB;  // boot memory ends at 66 GiB: 2 GiB blocks
  auto refused = MakePlan(big, Inventory());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("memory block 2 GiB"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("domain 'vm1'"), std::string::npos);
  // The admin says the guest never hot-plugs: the largest 2 MiB-aligned area.
  big.annotation->hotplug_block = 0;
  auto plan = MakePlan(big, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->memory_block.bytes, kNoHotplug);
  EXPECT_EQ(plan->devices[0].layout.guest_size, 500 * MiB);
  EXPECT_EQ(plan->devices[0].layout.target_size, 502 * MiB);
  // A small guest: 128 MiB, as before.
  auto small = MakePlan(Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")}), Inventory());
  ASSERT_TRUE(small);
  EXPECT_EQ(small->memory_block.bytes, 128 * MiB);
  EXPECT_NE(small->memory_block.reason.find("< 64 GiB"), std::string::npos)
      << small->memory_block.reason;
}

TEST(Plan, RoundedLabelIsAWarningNotAnError) {
  NvdimmRequest request = ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206");
  request.label_size = 132 * KiB;
  Domain arm = Vm({request});
  arm.arch = Arch::kAarch64;
  auto plan = MakePlan(arm, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->devices[0].layout.label_size, 192 * KiB);
  ASSERT_EQ(plan->warnings.size(), 1u);
  EXPECT_NE(plan->warnings[0].find("label 132 KiB rounded up to 192 KiB"), std::string::npos)
      << plan->warnings[0];
  EXPECT_NE(plan->warnings[0].find("64 KiB page granule"), std::string::npos);
}

TEST(Plan, UnknownMemoryMapNeverBlocksADomainWithoutNvdimms) {
  Domain plain = Vm({});
  plain.annotation.reset();
  plain.machine = "microvm";
  plain.memory = 100 * GiB;
  auto plan = MakePlan(plain, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->devices.empty());
}

TEST(Plan, PrerequisitesCoverInitialMemoryAndDevices) {
  auto plan = MakePlan(Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")}), Inventory());
  ASSERT_TRUE(plan);
  const Prerequisites& p = plan->prerequisites;
  EXPECT_EQ(p.memory, 1 * GiB + 386 * MiB);
  EXPECT_EQ(p.current_memory, p.memory);  // no <currentMemory>: no balloon
  EXPECT_EQ(p.max_memory, 1 * GiB + 386 * MiB);
  EXPECT_EQ(p.max_memory_slots, 1u);
  ASSERT_TRUE(p.add_numa_cell);
  EXPECT_EQ(p.add_numa_cell->memory, 1 * GiB);
  EXPECT_EQ(p.add_numa_cell_cpus, "0-1");
  EXPECT_TRUE(p.add_acpi);
}

TEST(Plan, BalloonedGuestKeepsItsCurrentMemory) {
  Domain d = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  d.current_memory = 512 * MiB;
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->prerequisites.current_memory);
}

TEST(Plan, DefaultNodeFollowsNumatune) {
  Domain d = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  d.numa_cells = {{0, 512 * MiB}, {1, 512 * MiB}};
  d.memnode_nodesets = {{0, "0"}, {1, "1-3"}};  // host node 1 backs guest cell 1
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->devices[0].node, 1);
  EXPECT_FALSE(plan->prerequisites.add_numa_cell);
}

TEST(Plan, ExplicitNodeMustExist) {
  NvdimmRequest request = ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206");
  request.node = 2;
  Domain d = Vm({request});
  d.numa_cells = {{0, 512 * MiB}, {1, 512 * MiB}};
  auto plan = MakePlan(d, Inventory());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("domain 'vm1'"), std::string::npos);
  EXPECT_NE(plan.error().message.find("node 2"), std::string::npos) << plan.error().message;
}

TEST(Plan, BlockDeviceModeHasNoPmem) {
  auto plan =
      MakePlan(Vm({NvdimmRequest{SelectorKind::kPath, "/dev/pmem0.1", {}, {}}}), Inventory());
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->devices[0].layout.pmem);
  EXPECT_FALSE(plan->devices[0].Device().pmem);
  EXPECT_EQ(plan->devices[0].Device().access, "shared");
}

TEST(Plan, SameNamespaceTwiceIsRefused) {
  auto plan = MakePlan(Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206"),
                           NvdimmRequest{SelectorKind::kPath, "/dev/dax0.0", {}, {}}}),
                       Inventory());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("namespace0.0"), std::string::npos);
}

TEST(Plan, PathNotInInventoryIsRefusedWithoutTouchingIt) {
  auto plan = MakePlan(Vm({NvdimmRequest{SelectorKind::kPath, "/dev/sda", {}, {}}}), Inventory());
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(plan.error().message.find("/dev/sda"), std::string::npos);
}

TEST(Plan, UnannotatedNamespaceDeviceIsGuarded) {
  Domain d = Vm({});
  d.annotation.reset();
  MemoryDevice by_hand;
  by_hand.model = "nvdimm";
  by_hand.source_path = "/dev/dax0.0";
  by_hand.target_size = 512 * MiB;
  by_hand.label_size = 128 * KiB;
  d.memory_devices.push_back(by_hand);
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->devices.size(), 1u);
  EXPECT_FALSE(plan->devices[0].request);
  // The hand-written 512 MiB overflows the 502 MiB device: the diff says so.
  const auto diff = DiffAgainstPlan(d, *plan);
  EXPECT_NE(std::find_if(diff.begin(), diff.end(),
                         [](const std::string& line) {
                           return line.find("target size is 512 MiB, the plan says 386 MiB") !=
                                  std::string::npos;
                         }),
            diff.end());
}

TEST(Plan, DomainWithoutNvdimmHasAnEmptyPlan) {
  Domain d = Vm({});
  d.annotation.reset();
  MemoryDevice dimm;
  dimm.model = "dimm";
  dimm.target_size = 256 * MiB;
  d.memory_devices.push_back(dimm);
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->devices.empty());
}

TEST(PlanDiff, EmptyWhenTheDomainMatches) {
  Domain d = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan);
  EXPECT_FALSE(DiffAgainstPlan(d, *plan).empty());
  d = testing_support::ApplyPlanByHand(d, *plan);
  auto again = MakePlan(d, Inventory());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(DiffAgainstPlan(d, *again), std::vector<std::string>{});
}

TEST(PlanDiff, NamesEachWrongField) {
  Domain d = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan);
  MemoryDevice wrong = plan->devices[0].Device();
  wrong.label_size = 256 * KiB;
  wrong.align_size.reset();
  wrong.pmem = false;
  wrong.node = 1;
  wrong.access = "private";
  d.memory_devices.push_back(wrong);
  const auto diff = DiffAgainstPlan(d, *plan);
  for (const char* expected : {"label size is 256 KiB", "alignsize is none", "<pmem/> is missing",
                               "guest node is 1", "access is 'private'"}) {
    EXPECT_NE(std::find_if(diff.begin(), diff.end(),
                           [&](const std::string& line) {
                             return line.find(expected) != std::string::npos;
                           }),
              diff.end())
        << expected;
  }
}

}  // namespace
}  // namespace nvh

namespace nvh {
namespace {

// Issue 10: a domain with nothing to plan keeps its definition: no NUMA
// cell, no <acpi/>, no <maxMemory> (libvirt rejects one with 0 slots).
TEST(PlanNothingToPlan, WantsNoPrerequisites) {
  Domain d = Vm({});
  d.annotation.reset();
  MemoryDevice dimm;
  dimm.model = "dimm";
  dimm.target_size = 512 * MiB;
  d.memory_devices.push_back(dimm);
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->devices.empty());
  EXPECT_EQ(plan->prerequisites.max_memory_slots, 0u);
  EXPECT_EQ(plan->prerequisites.max_memory, 0u);
  EXPECT_FALSE(plan->prerequisites.add_numa_cell);
  EXPECT_FALSE(plan->prerequisites.add_acpi);
  EXPECT_EQ(plan->prerequisites.memory, 0u);
  EXPECT_TRUE(DiffAgainstPlan(d, *plan).empty());
}

TEST(PlanNothingToPlan, PlannedDeviceWantsAtLeastOneSlot) {
  auto plan = MakePlan(Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")}), Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_GE(plan->prerequisites.max_memory_slots, 1u);
  EXPECT_GT(plan->prerequisites.max_memory, 0u);
}

// An nvdimm on a host namespace is never waved through on an architecture
// the planner does not size: annotated or not, planning refuses, naming it.
TEST(PlanArchitecture, UnknownArchitectureIsRefusedNamingIt) {
  Domain annotated = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  annotated.unsupported_arch = "s390x";
  auto plan = MakePlan(annotated, Inventory());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("architecture 's390x'"), std::string::npos)
      << plan.error().message;
  EXPECT_NE(plan.error().message.find("domain 'vm1'"), std::string::npos);

  Domain device = Vm({});
  device.annotation.reset();
  device.unsupported_arch = "riscv64";
  MemoryDevice nvdimm;
  nvdimm.model = "nvdimm";
  nvdimm.source_path = "/dev/dax0.0";
  nvdimm.target_size = 386 * MiB;
  device.memory_devices.push_back(nvdimm);
  plan = MakePlan(device, Inventory());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("architecture 'riscv64'"), std::string::npos);
}

TEST(PlanArchitecture, UnknownArchitectureWithoutHostNamespacePasses) {
  Domain d = Vm({});
  d.annotation.reset();
  d.unsupported_arch = "s390x";
  MemoryDevice file_nvdimm;
  file_nvdimm.model = "nvdimm";
  file_nvdimm.source_path = "/tmp/nvdimm";
  file_nvdimm.target_size = 256 * MiB;
  d.memory_devices.push_back(file_nvdimm);
  auto plan = MakePlan(d, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->devices.empty());
}

// i686 is planned like x86_64 (libvirt's 2 MiB rounding, G = alignDown(S -
// L, A) measured with qemu-system-i386 7.2), with the 512 MiB memory block of
// a PAE guest.
TEST(PlanArchitecture, I686IsPlannedWithPaeMemoryBlocks) {
  Domain d = Vm({ByUuid("c3ced113-e676-47b2-b173-b7f7d08b2206")});
  d.arch = Arch::kI686;
  HostNamespaces inventory = Inventory();
  inventory[0].size = 2 * GiB - 2 * MiB;
  auto plan = MakePlan(d, inventory);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->devices.size(), 1u);
  const Layout& l = plan->devices[0].layout;
  EXPECT_EQ(l.guest_size, 1536 * MiB);
  EXPECT_EQ(l.guest_size % (512 * MiB), 0u);
  EXPECT_EQ(l.target_size % (2 * MiB), 0u);
  EXPECT_LE(l.target_size, inventory[0].size);
  EXPECT_TRUE(plan->prerequisites.add_acpi);
}

}  // namespace
}  // namespace nvh
