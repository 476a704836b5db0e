#include "core/adoption.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/plan.h"

namespace nvh {
namespace {

// The namespace of issue 9: devdax, 1006 MiB, align 2 MiB.
HostNamespace Devdax1006() {
  HostNamespace ns;
  ns.dev = "namespace1.0";
  ns.uuid = "6e9c8b3a-1f2d-4c5e-9a7b-0d1e2f3a4b5c";
  ns.mode = NamespaceMode::kDevdax;
  ns.size = 1006 * MiB;
  ns.align = 2 * MiB;
  ns.numa_node = 0;
  ns.chardev = "dax1.0";
  ns.device_path = "/dev/dax1.0";
  return ns;
}

Geometry Geometry1006() {
  return NamespaceGeometry(Devdax1006(), kMinLabelSize, Arch::kX86_64);
}

MemoryDevice Device(std::uint64_t target, std::optional<std::uint64_t> label,
                    std::optional<std::uint64_t> align) {
  MemoryDevice d;
  d.model = "nvdimm";
  d.access = "shared";
  d.source_path = "/dev/dax1.0";
  d.target_size = target;
  d.label_size = label;
  d.align_size = align;
  d.pmem = true;
  d.node = 0;
  return d;
}

// The three existing layouts of issue 9 on that namespace.
MemoryDevice HandWritten() {
  return Device(1004 * MiB, 128 * KiB, 2 * MiB);
}
// oVirt getNvdimmAlignedSize: alignDown(1006M, 128M) = 896M, minus
// alignDown(896M - 128K, 2M) % 128M = 126M.
MemoryDevice Ovirt() {
  return Device(770 * MiB, 128 * KiB, 2 * MiB);
}
// Nova _guest_add_vpmems: target = namespace size, label 2 MiB.
MemoryDevice Nova() {
  return Device(1006 * MiB, 2 * MiB, 2 * MiB);
}

Adoption Check(const MemoryDevice& device, const Geometry& g = Geometry1006()) {
  return CheckAdoption(g, LayoutOfDevice(device, g), LayoutSource::kDefinition);
}

bool Has(const std::vector<Violation>& violations, Constraint c) {
  return std::any_of(violations.begin(), violations.end(),
                     [c](const Violation& v) { return v.constraint == c; });
}

TEST(Adoption, TheThreeExistingLayoutsOfIssue9AreKept) {
  const Adoption hand = Check(HandWritten());
  EXPECT_TRUE(hand.Usable());
  EXPECT_EQ(hand.existing.guest_size, 1002 * MiB);
  ASSERT_EQ(hand.losses.size(), 1u);
  EXPECT_EQ(hand.losses[0].constraint, Constraint::kHotplugBlock);
  EXPECT_EQ(DescribeLoss(Geometry1006(), hand.losses[0]),
            "guest area not a multiple of 128 MiB: memory hot-plugged after it may not come "
            "online");

  const Adoption ovirt = Check(Ovirt());
  EXPECT_TRUE(ovirt.Usable());
  EXPECT_EQ(ovirt.existing.guest_size, 768 * MiB);
  EXPECT_TRUE(ovirt.losses.empty());

  const Adoption nova = Check(Nova());
  EXPECT_TRUE(nova.Usable());
  EXPECT_EQ(nova.existing.guest_size, 1004 * MiB);
  EXPECT_TRUE(Has(nova.losses, Constraint::kHotplugBlock));
}

TEST(Adoption, UsesTheSizeLibvirtRoundsTo) {
  // 1003 MiB is rounded up to 1004 MiB at every start: what QEMU saw.
  const Adoption odd = Check(Device(1003 * MiB, 128 * KiB, 2 * MiB));
  EXPECT_TRUE(odd.Usable());
  EXPECT_EQ(odd.existing.target_size, 1004 * MiB);
  // 1005 MiB + 1 KiB rounds to 1006 MiB: still fits.
  EXPECT_TRUE(Check(Device(1005 * MiB + 1 * KiB, 128 * KiB, 2 * MiB)).Usable());
  // 1007 MiB rounds past the end of the namespace.
  const Adoption past = Check(Device(1007 * MiB, 128 * KiB, 2 * MiB));
  EXPECT_FALSE(past.Usable());
  EXPECT_TRUE(Has(past.refusals, Constraint::kFitsBacking));
}

TEST(Adoption, EachRuleThatStopsTheStartRefuses) {
  struct Case {
    const char* what;
    MemoryDevice device;
    Geometry geometry;
    Constraint rule;
  };
  Geometry dax1g = Geometry1006();
  dax1g.device_align = 1 * GiB;
  dax1g.backing_size = 2 * GiB;
  Geometry ppc = NamespaceGeometry(Devdax1006(), kMinLabelSize, Arch::kPpc64);
  ppc.mode = NamespaceMode::kRaw;
  ppc.device_align = 0;
  Geometry raw = Geometry1006();
  raw.mode = NamespaceMode::kRaw;
  raw.device_align = 0;
  for (const Case& c : {
           Case{"does not fit", Device(1008 * MiB, 128 * KiB, 2 * MiB), Geometry1006(),
                Constraint::kFitsBacking},
           Case{"label below 128 KiB", Device(1004 * MiB, 64 * KiB, 2 * MiB), Geometry1006(),
                Constraint::kLabelMinimum},
           Case{"no label at all", Device(1004 * MiB, std::nullopt, 2 * MiB), Geometry1006(),
                Constraint::kLabelMinimum},
           Case{"devdax length", Device(1536 * MiB, 128 * KiB, 1 * GiB), dax1g,
                Constraint::kDaxMapLength},
           Case{"devdax alignsize", Device(1004 * MiB, 128 * KiB, 1 * MiB), Geometry1006(),
                Constraint::kDaxMapAlign},
           Case{"alignsize not a power of two", Device(1004 * MiB, 128 * KiB, 3 * MiB),
                Geometry1006(), Constraint::kAlignPowerOfTwo},
           Case{"no guest area", Device(2 * MiB, 2 * MiB, 2 * MiB), Geometry1006(),
                Constraint::kGuestAreaNonEmpty},
           Case{"ppc64 below 256 MiB + label", Device(200 * MiB, 128 * KiB, 2 * MiB), ppc,
                Constraint::kPpc64Label},
       }) {
    const Adoption a = Check(c.device, c.geometry);
    EXPECT_FALSE(a.Usable()) << c.what;
    EXPECT_TRUE(Has(a.refusals, c.rule)) << c.what << ": " << ConstraintName(c.rule);
  }
  // A block-device mode without <alignsize>: QEMU's page alignment, usable.
  const Adoption no_align = Check(Device(1004 * MiB, 128 * KiB, std::nullopt), raw);
  EXPECT_TRUE(no_align.Usable());
  EXPECT_EQ(no_align.existing.align_size, 4 * KiB);
  EXPECT_FALSE(no_align.existing.pmem);
}

TEST(Adoption, PpcLayoutIsTakenAfterLibvirtsDefineTimeAdjustment) {
  Geometry ppc = NamespaceGeometry(Devdax1006(), kMinLabelSize, Arch::kPpc64);
  ppc.mode = NamespaceMode::kRaw;
  ppc.device_align = 0;
  // libvirt turns 1000 MiB into 768 MiB + 128 KiB (FACTS.md).
  const Adoption a = Check(Device(1000 * MiB, 128 * KiB, 2 * MiB), ppc);
  EXPECT_TRUE(a.Usable());
  EXPECT_EQ(a.existing.target_size, 768 * MiB + 128 * KiB);
}

Domain WithDevice(const MemoryDevice& device, bool annotated) {
  Domain d;
  d.name = "g1";
  d.uuid = "5a1d7c38-9b0e-4f62-8c1e-2f4d6b7a9e01";
  d.memory = 256 * MiB + device.target_size;
  d.acpi = true;
  d.max_memory = 4 * GiB;
  d.max_memory_slots = 4;
  d.numa_cells = {NumaCell{0, 256 * MiB}};
  d.memory_devices = {device};
  if (annotated) {
    d.annotation = Annotation{{NvdimmRequest{SelectorKind::kUuid, Devdax1006().uuid, {}, {}}}};
  }
  return d;
}

TEST(AdoptionPlan, KeepsAValidDeviceAndReportsTheOptimalOne) {
  for (bool annotated : {true, false}) {
    const Domain d = WithDevice(HandWritten(), annotated);
    auto plan = MakePlan(d, {Devdax1006()});
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->devices.size(), 1u);
    const PlannedDevice& p = plan->devices[0];
    EXPECT_TRUE(p.kept);
    EXPECT_EQ(p.layout.target_size, 1004 * MiB);
    EXPECT_EQ(p.layout.guest_size, 1002 * MiB);
    ASSERT_TRUE(p.optimal);
    EXPECT_EQ(p.optimal->target_size, 898 * MiB);
    EXPECT_EQ(p.optimal->guest_size, 896 * MiB);
    EXPECT_EQ(DiffAgainstPlan(d, *plan), std::vector<std::string>{});
    EXPECT_TRUE(UnkeptLayouts(*plan).empty());
    const auto notes = KeptLayoutNotes(*plan);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("kept: existing layout"), std::string::npos) << notes[0];
    EXPECT_NE(notes[0].find("guest area not a multiple of 128 MiB"), std::string::npos);
    EXPECT_NE(notes[0].find("target 898 MiB"), std::string::npos) << notes[0];
  }
}

// tests/realhost: the repartition gave the namespace a new device node
// (/dev/dax1.0 -> /dev/dax1.3). The definition's device under the recorded
// node is this namespace's: it is updated, never left beside a second one.
TEST(AdoptionPlan, ARenumberedDeviceNodeIsTheSameDevice) {
  Domain d = WithDevice(HandWritten(), true);
  d.max_memory_slots = 1;
  HostNamespace renumbered = Devdax1006();
  renumbered.dev = "namespace1.3";
  renumbered.chardev = "dax1.3";
  renumbered.device_path = "/dev/dax1.3";
  const Layout recorded = LayoutOfDevice(HandWritten(), Geometry1006());
  for (const bool relayout : {false, true}) {
    SCOPED_TRACE(relayout ? "relayout" : "kept");
    PlanOptions options;
    options.relayout = relayout;
    options.recorded = {RecordedLayout{renumbered.IdentityKey(), recorded, "/dev/dax1.0"}};
    auto plan = MakePlan(d, {renumbered}, options);
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->devices.size(), 1u);
    EXPECT_EQ(plan->devices[0].path, "/dev/dax1.3");
    EXPECT_EQ(plan->devices[0].previous_path, "/dev/dax1.0");
    EXPECT_TRUE(plan->devices[0].IsDeviceAt("/dev/dax1.0"));
    EXPECT_EQ(plan->devices[0].kept, !relayout);
    // One device before, one after: no second slot, no memory counted twice.
    EXPECT_EQ(plan->prerequisites.max_memory_slots, 1u);
    EXPECT_EQ(plan->prerequisites.memory, 256 * MiB + plan->devices[0].layout.target_size);
    const auto diff = DiffAgainstPlan(d, *plan);
    ASSERT_FALSE(diff.empty());
    EXPECT_NE(diff[0].find("nvdimm /dev/dax1.0: namespace1.3 is at /dev/dax1.3 now"),
              std::string::npos)
        << diff[0];
    for (const std::string& line : diff) {
      EXPECT_EQ(line.find("missing"), std::string::npos) << line;
    }
  }
  // Without a record nothing says the old node was this namespace.
  auto unrecorded = MakePlan(d, {renumbered});
  ASSERT_TRUE(unrecorded);
  EXPECT_TRUE(unrecorded->devices[0].previous_path.empty());
}

// The recorded node now belongs to another planned namespace: that device is
// the other namespace's, not this one's previous.
TEST(AdoptionPlan, ARecordedNodeAnotherNamespaceHasNowIsNotAPreviousOne) {
  Domain d = WithDevice(HandWritten(), true);
  HostNamespace moved = Devdax1006();
  moved.dev = "namespace1.3";
  moved.chardev = "dax1.3";
  moved.device_path = "/dev/dax1.3";
  HostNamespace other = Devdax1006();
  other.uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
  // /dev/dax1.0 is `other` now; the domain's (unannotated) device there is it.
  PlanOptions options;
  options.recorded = {RecordedLayout{moved.IdentityKey(),
                                     LayoutOfDevice(HandWritten(), Geometry1006()), "/dev/dax1.0"}};
  auto plan = MakePlan(d, {moved, other}, options);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->devices.size(), 2u);
  EXPECT_EQ(plan->devices[1].path, "/dev/dax1.0");
  EXPECT_TRUE(plan->devices[0].previous_path.empty());
}

// Two namespaces of the domain traded device nodes (a reboot renumbered
// both): each device goes with the namespace its record names, so every
// namespace keeps its slot, guest node and layout.
TEST(AdoptionPlan, TwoNamespacesThatTradedNodesKeepTheirDevices) {
  for (const bool annotated : {true, false}) {
    SCOPED_TRACE(annotated ? "first annotated" : "none annotated");
    Domain d = WithDevice(HandWritten(), annotated);
    d.numa_cells = {NumaCell{0, 256 * MiB}, NumaCell{1, 256 * MiB}};
    MemoryDevice second = Nova();
    second.source_path = "/dev/dax1.1";
    second.node = 1;
    d.memory_devices.push_back(second);
    d.max_memory_slots = 2;
    HostNamespace a = Devdax1006();  // was at /dev/dax1.0, is at /dev/dax1.1 now
    a.dev = "namespace1.1";
    a.chardev = "dax1.1";
    a.device_path = "/dev/dax1.1";
    HostNamespace b = Devdax1006();  // was at /dev/dax1.1, is at /dev/dax1.0 now
    b.uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    PlanOptions options;
    options.recorded = {
        RecordedLayout{a.IdentityKey(), LayoutOfDevice(HandWritten(), Geometry1006()),
                       "/dev/dax1.0"},
        RecordedLayout{b.IdentityKey(), LayoutOfDevice(Nova(), Geometry1006()), "/dev/dax1.1"}};
    auto plan = MakePlan(d, {a, b}, options);
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->devices.size(), 2u);
    const auto planned = [&](const HostNamespace& ns) {
      return *std::find_if(plan->devices.begin(), plan->devices.end(),
                           [&](const PlannedDevice& p) { return p.host.uuid == ns.uuid; });
    };
    const PlannedDevice pa = planned(a);
    const PlannedDevice pb = planned(b);
    EXPECT_EQ(pa.path, "/dev/dax1.1");
    EXPECT_EQ(pa.DefinitionPath(), "/dev/dax1.0");
    EXPECT_EQ(pa.layout.target_size, HandWritten().target_size);
    EXPECT_EQ(pa.node, 0);
    EXPECT_EQ(pb.path, "/dev/dax1.0");
    EXPECT_EQ(pb.DefinitionPath(), "/dev/dax1.1");
    EXPECT_EQ(pb.layout.target_size, Nova().target_size);
    EXPECT_EQ(pb.node, 1);
    EXPECT_TRUE(pa.kept && pb.kept);
    EXPECT_EQ(plan->prerequisites.max_memory_slots, 2u);
    const auto diff = DiffAgainstPlan(d, *plan);
    for (const char* line : {"nvdimm /dev/dax1.0: namespace1.1 is at /dev/dax1.1 now",
                             "nvdimm /dev/dax1.1: namespace1.0 is at /dev/dax1.0 now"}) {
      EXPECT_TRUE(std::any_of(diff.begin(), diff.end(), [&](const std::string& l) {
        return l.starts_with(line);
      })) << line;
    }
    // Only the paths differ: no size, label or node change is asked for.
    EXPECT_EQ(diff.size(), 2u);
    for (const std::string& line : diff) {
      EXPECT_NE(line.find("(device node renumbered; same namespace"), std::string::npos) << line;
    }
  }
}

// A chain: A took B's old node and B a node no device has. Each keeps its
// own device; no third device appears.
TEST(AdoptionPlan, RenumberedInAChainEachKeepsItsDevice) {
  Domain d = WithDevice(HandWritten(), false);
  MemoryDevice second = Nova();
  second.source_path = "/dev/dax1.1";
  d.memory_devices.push_back(second);
  d.max_memory_slots = 2;
  HostNamespace a = Devdax1006();  // /dev/dax1.0 -> /dev/dax1.1
  a.chardev = "dax1.1";
  a.device_path = "/dev/dax1.1";
  HostNamespace b = Devdax1006();  // /dev/dax1.1 -> /dev/dax1.2
  b.dev = "namespace1.2";
  b.uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
  b.chardev = "dax1.2";
  b.device_path = "/dev/dax1.2";
  PlanOptions options;
  options.recorded = {
      RecordedLayout{a.IdentityKey(), LayoutOfDevice(HandWritten(), Geometry1006()), "/dev/dax1.0"},
      RecordedLayout{b.IdentityKey(), LayoutOfDevice(Nova(), Geometry1006()), "/dev/dax1.1"}};
  // No device is at b's node now: only its annotation names it.
  d.annotation = Annotation{{NvdimmRequest{SelectorKind::kUuid, b.uuid, {}, {}}}};
  auto plan = MakePlan(d, {a, b}, options);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->devices.size(), 2u);
  for (const PlannedDevice& p : plan->devices) {
    SCOPED_TRACE(p.host.uuid);
    EXPECT_TRUE(p.kept);
    if (p.host.uuid == a.uuid) {
      EXPECT_EQ(p.DefinitionPath(), "/dev/dax1.0");
      EXPECT_EQ(p.layout.target_size, HandWritten().target_size);
    } else {
      EXPECT_EQ(p.DefinitionPath(), "/dev/dax1.1");
      EXPECT_EQ(p.layout.target_size, Nova().target_size);
    }
  }
  EXPECT_EQ(plan->prerequisites.max_memory_slots, 2u);
  for (const std::string& line : DiffAgainstPlan(d, *plan)) {
    EXPECT_EQ(line.find("missing"), std::string::npos) << line;
  }
}

TEST(AdoptionPlan, ANewDeviceGetsTheComputedLayout) {
  Domain d = WithDevice(HandWritten(), true);
  d.memory_devices.clear();
  auto plan = MakePlan(d, {Devdax1006()});
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->devices[0].kept);
  EXPECT_FALSE(plan->devices[0].existing);
  EXPECT_EQ(plan->devices[0].layout.target_size, 898 * MiB);
}

TEST(AdoptionPlan, TheDefinitionMayHoldTheUnroundedSize) {
  const Domain d = WithDevice(Device(1003 * MiB, 128 * KiB, 2 * MiB), true);
  auto plan = MakePlan(d, {Devdax1006()});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->devices[0].layout.target_size, 1004 * MiB);
  EXPECT_EQ(DiffAgainstPlan(d, *plan), std::vector<std::string>{});
  // libvirt's rounded size at `start` is the same layout.
  const Domain started = WithDevice(Device(1004 * MiB, 128 * KiB, 2 * MiB), true);
  EXPECT_EQ(DiffAgainstPlan(started, *plan), std::vector<std::string>{});
}

TEST(AdoptionPlan, TheRecordIsTheAuthorityOverAHandEdit) {
  const Domain d = WithDevice(Device(894 * MiB, 128 * KiB, 2 * MiB), true);
  PlanOptions options;
  Layout recorded = LayoutOfDevice(HandWritten(), Geometry1006());
  options.recorded = {
      RecordedLayout{Devdax1006().IdentityKey(), recorded, Devdax1006().DevicePath()}};
  auto plan = MakePlan(d, {Devdax1006()}, options);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->devices[0].kept);
  EXPECT_EQ(plan->devices[0].existing->source, LayoutSource::kRecord);
  EXPECT_EQ(plan->devices[0].layout.target_size, 1004 * MiB);
  const auto diff = DiffAgainstPlan(d, *plan);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_NE(diff[0].find("target size is 894 MiB, the plan says 1004 MiB"), std::string::npos)
      << diff[0];
}

TEST(AdoptionPlan, RelayoutComputesAfreshAndKeepsTheOldForTheReport) {
  PlanOptions options;
  options.relayout = true;
  auto plan = MakePlan(WithDevice(Nova(), true), {Devdax1006()}, options);
  ASSERT_TRUE(plan);
  const PlannedDevice& p = plan->devices[0];
  EXPECT_FALSE(p.kept);
  ASSERT_TRUE(p.existing);
  EXPECT_EQ(p.existing->existing.target_size, 1006 * MiB);
  EXPECT_EQ(p.layout.target_size, 898 * MiB);
  EXPECT_TRUE(UnkeptLayouts(*plan).empty());  // moved on request, not unusable
}

TEST(AdoptionPlan, AnUnusableDeviceIsReportedWithTheReason) {
  const Domain d = WithDevice(Device(1008 * MiB, 128 * KiB, 2 * MiB), true);
  auto plan = MakePlan(d, {Devdax1006()});
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->devices[0].kept);
  const auto unkept = UnkeptLayouts(*plan);
  ASSERT_EQ(unkept.size(), 1u);
  EXPECT_NE(unkept[0].find("target size 1008 MiB exceeds the backing size 1006 MiB"),
            std::string::npos)
      << unkept[0];
  EXPECT_FALSE(DiffAgainstPlan(d, *plan).empty());
}

TEST(AdoptionPlan, ANewLabelInTheAnnotationWaitsForRelayout) {
  Domain d = WithDevice(Ovirt(), true);
  d.annotation->entries[0].label_size = 256 * KiB;
  auto plan = MakePlan(d, {Devdax1006()});
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->devices[0].kept);
  EXPECT_EQ(plan->devices[0].layout.label_size, 128 * KiB);
  ASSERT_EQ(plan->devices[0].pending.size(), 1u);
  EXPECT_NE(plan->devices[0].pending[0].find("--relayout"), std::string::npos);
}

TEST(AdoptionPlan, PmemAndAccessAreCorrectedWithoutMovingTheLayout) {
  MemoryDevice device = HandWritten();
  device.pmem = false;
  device.access = "";
  const Domain d = WithDevice(device, true);
  auto plan = MakePlan(d, {Devdax1006()});
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->devices[0].kept);
  EXPECT_TRUE(plan->devices[0].layout.pmem);
  EXPECT_EQ(DiffAgainstPlan(d, *plan).size(), 2u);  // <pmem/> and access, nothing else
}

}  // namespace
}  // namespace nvh
