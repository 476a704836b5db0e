#include "state/layout_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "state/state_test_util.h"
#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

using testing_state::RawEntries;

constexpr char kDomain[] = "5c4f6a0e-3b1d-4e8a-9f2b-7d6c5b4a3921";

// The devdax namespace of the emulated host with a backing size `size`.
HostNamespace DevdaxNamespace(std::uint64_t size) {
  HostNamespace ns;
  ns.dev = "namespace0.0";
  ns.uuid = "6e9c8a2f-1111-4c1e-9a55-0123456789ab";
  ns.raw_uuid = "0a0b0c0d-1111-4c1e-9a55-0123456789ab";
  ns.mode = NamespaceMode::kDevdax;
  ns.size = size;
  ns.align = 2 * MiB;
  ns.chardev = "dax0.0";
  ns.device_path = "/dev/dax0.0";
  return ns;
}

PlannedDevice Planned(const HostNamespace& ns, std::uint64_t label = kMinLabelSize) {
  PlannedDevice device;
  device.host = ns;
  auto layout = ComputeLayout(NamespaceGeometry(ns, label, Arch::kX86_64));
  EXPECT_TRUE(layout.has_value()) << layout.error().message;
  if (layout) device.layout = *layout;
  device.path = ns.DevicePath();
  return device;
}

LayoutRecord RecordOf(std::initializer_list<PlannedDevice> devices) {
  Plan plan;
  plan.domain = "vm1";
  plan.devices = devices;
  return RecordFromPlan(plan, kDomain, "vm1");
}

std::string All(const std::vector<std::string>& sentences) {
  std::string out;
  for (const auto& s : sentences) out += s + "\n";
  return out;
}

void ExpectHas(const std::string& text, std::initializer_list<std::string> parts) {
  for (const auto& part : parts) {
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in:\n" << text;
  }
}

TEST(LayoutStoreTest, SaveLoadRoundTripWithPrivateFiles) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path() + "/var/lib/nvdimm-hook");
  HostNamespace fsdax = DevdaxNamespace(1 * GiB);
  fsdax.dev = "namespace0.1";
  fsdax.uuid = "7f0d9b30-2222-4d2f-8b66-123456789abc";
  fsdax.mode = NamespaceMode::kFsdax;
  fsdax.device_path = "/dev/pmem0.1";
  PlannedDevice second = Planned(fsdax);
  second.node = 1;
  const LayoutRecord record = RecordOf({Planned(DevdaxNamespace(502 * MiB)), second});
  ASSERT_EQ(record.devices.size(), 2u);
  EXPECT_EQ(record.devices[0].layout.guest_size, 384 * MiB);
  EXPECT_EQ(record.devices[0].key, "6e9c8a2f-1111-4c1e-9a55-0123456789ab");
  EXPECT_EQ(record.devices[1].node, 1);

  auto saved = store.Save(kDomain, record);
  ASSERT_TRUE(saved.has_value()) << saved.error().message;
  const std::string file = store.state_dir() + "/layouts/" + kDomain + ".json";
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(RawEntries(store.state_dir() + "/layouts"),
            std::vector<std::string>{std::string(kDomain) + ".json"});

  auto loaded = store.Load(kDomain);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->domain_uuid, kDomain);
  EXPECT_EQ((*loaded)->domain_name, "vm1");
  EXPECT_EQ((*loaded)->recorded, record.recorded);
  EXPECT_EQ((*loaded)->devices, record.devices);
  EXPECT_TRUE(CompareLayouts(record, **loaded).empty());

  auto list = store.List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].domain_uuid, kDomain);
  EXPECT_TRUE((*list)[0].record.has_value());

  auto removed = store.Remove(kDomain);
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(*removed);
  auto gone = store.Load(kDomain);
  ASSERT_TRUE(gone.has_value());
  EXPECT_FALSE(gone->has_value());
  auto removed_again = store.Remove(kDomain);
  ASSERT_TRUE(removed_again.has_value());
  EXPECT_FALSE(*removed_again);
}

TEST(LayoutStoreTest, UpperCaseUuidIsTheSameRecord) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path());
  ASSERT_TRUE(store.Save("5C4F6A0E-3B1D-4E8A-9F2B-7D6C5B4A3921", RecordOf({})).has_value());
  auto loaded = store.Load(kDomain);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->has_value());
}

TEST(LayoutStoreTest, ReadingCreatesNothing) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path() + "/state");
  auto loaded = store.Load(kDomain);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_FALSE(loaded->has_value());
  auto list = store.List();
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(std::filesystem::exists(store.state_dir()));
}

TEST(LayoutStoreTest, InvalidUuidsAreRefused) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path());
  for (const char* uuid :
       {"", "vm1", "../5c4f6a0e-3b1d-4e8a-9f2b-7d6c5b4a392",
        "5c4f6a0e-3b1d-4e8a-9f2b-7d6c5b4a3921/..", "5c4f6a0e3b1d4e8a9f2b7d6c5b4a3921"}) {
    EXPECT_FALSE(store.Save(uuid, RecordOf({})).has_value()) << uuid;
    EXPECT_FALSE(store.Load(uuid).has_value()) << uuid;
    EXPECT_FALSE(store.Remove(uuid).has_value()) << uuid;
  }
  EXPECT_TRUE(RawEntries(tmp.path()).empty());
  // A record of one domain cannot be saved as another's.
  LayoutRecord other = RecordOf({});
  other.domain_uuid = "11111111-aaaa-4bbb-8ccc-000000000001";
  EXPECT_FALSE(store.Save(kDomain, other).has_value());
}

TEST(LayoutStoreTest, CorruptFilesAreErrorsNamingTheFileAndListedAsProblems) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path());
  ASSERT_TRUE(store.Save(kDomain, RecordOf({Planned(DevdaxNamespace(502 * MiB))})).has_value());
  const std::string file = tmp.path() + "/layouts/" + kDomain + ".json";
  std::ofstream(file, std::ios::trunc)
      << R"({"version":1,"domain_uuid":")" << kDomain
      << R"(","domain_name":"vm1","recorded":1,"devices":[{"key":1}]})";
  auto loaded = store.Load(kDomain);
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message.find(file), std::string::npos) << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("devices[0]: \"key\""), std::string::npos)
      << loaded.error().message;
  std::ofstream(tmp.path() + "/layouts/not-a-uuid.json") << "{}";
  auto list = store.List();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  for (const auto& entry : *list) {
    EXPECT_FALSE(entry.record.has_value());
    EXPECT_FALSE(entry.problem.empty());
  }
}

TEST(LayoutStoreTest, SaveRemovesTempFilesOfDeadWriters) {
  ScopedTempDir tmp;
  const LayoutStore store(tmp.path());
  ASSERT_TRUE(store.Save(kDomain, RecordOf({})).has_value());
  std::ofstream(tmp.path() + "/layouts/." + kDomain + ".json.tmp-1-2") << "{\"vers";
  auto list = store.List();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 1u);
  ASSERT_TRUE(store.Save(kDomain, RecordOf({})).has_value());
  EXPECT_EQ(RawEntries(tmp.path() + "/layouts"),
            std::vector<std::string>{std::string(kDomain) + ".json"});
}

// ---- what a change does to the guest's data -----------------------------

TEST(LayoutCompareTest, NothingChangedSaysNothing) {
  const auto a = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  auto b = a;
  b.recorded += std::chrono::hours(24);
  b.domain_name = "renamed";
  EXPECT_TRUE(CompareLayouts(a, b).empty());
}

TEST(LayoutCompareTest, GrowingNamespaceKeepsDataButMovesTheLabel) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  const auto now = RecordOf({Planned(DevdaxNamespace(1 * GiB))});
  const auto sentences = CompareLayouts(old_record, now);
  ASSERT_EQ(sentences.size(), 1u) << All(sentences);
  EXPECT_EQ(sentences[0],
            "namespace0.0 (/dev/dax0.0): namespace size 502 MiB -> 1 GiB: guest size 384 MiB -> "
            "896 MiB; existing data stays at the same offsets and the guest sees 512 MiB more; "
            "its label area moves from offset 386 MiB - 128 KiB to 898 MiB - 128 KiB (the "
            "guest's namespace labels are lost unless moved) (target 386 MiB -> 898 MiB)");
}

TEST(LayoutCompareTest, ShrinkingNamespaceCutsDataAndPutsLabelsOverIt) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  const auto now = RecordOf({Planned(DevdaxNamespace(256 * MiB))});
  const std::string text = All(CompareLayouts(old_record, now));
  ExpectHas(text, {"namespace size 502 MiB -> 256 MiB", "guest size 384 MiB -> 128 MiB",
                   "loses its last 256 MiB (guest offsets 128 MiB to 384 MiB)",
                   "data written there is cut off",
                   "label area moves from offset 386 MiB - 128 KiB to 130 MiB - 128 KiB",
                   "the new label area (offsets 130 MiB - 128 KiB to 130 MiB) lies where the guest "
                   "may have data",
                   "read as labels"});
}

TEST(LayoutCompareTest, SizeChangeWithTheSameLayoutMovesNothing) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  const auto now = RecordOf({Planned(DevdaxNamespace(400 * MiB))});
  const auto sentences = CompareLayouts(old_record, now);
  ASSERT_EQ(sentences.size(), 1u) << All(sentences);
  ExpectHas(sentences[0], {"namespace size 502 MiB -> 400 MiB", "layout is unchanged",
                           "data and labels stay where they are"});
}

TEST(LayoutCompareTest, LargerLabelMovesTheLabelStart) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  const auto now = RecordOf({Planned(DevdaxNamespace(502 * MiB), 1 * MiB)});
  const std::string text = All(CompareLayouts(old_record, now));
  ExpectHas(text, {"computed layout changed", "guest size stays 384 MiB",
                   "label area moves from offset 386 MiB - 128 KiB to", "label 128 KiB -> 1 MiB"});
}

TEST(LayoutCompareTest, LabelSizeChangeAtTheSameOffset) {
  auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  auto now = old_record;
  // Same label start, bigger label: the target grew by exactly the label.
  now.devices[0].layout.label_size = 256 * KiB;
  now.devices[0].layout.target_size += 128 * KiB;
  ExpectHas(All(CompareLayouts(old_record, now)),
            {"label area stays at offset 386 MiB - 128 KiB and grows 128 KiB -> 256 KiB"});
  ExpectHas(All(CompareLayouts(now, old_record)),
            {"shrinks 256 KiB -> 128 KiB", "labels in the cut-off part are lost"});
}

TEST(LayoutCompareTest, ReconfiguredNamespaceLosesTheData) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  HostNamespace reconfigured = DevdaxNamespace(502 * MiB);
  reconfigured.uuid = "99999999-1111-4c1e-9a55-0123456789ab";
  const auto now = RecordOf({Planned(reconfigured)});
  const auto sentences = CompareLayouts(old_record, now);
  ASSERT_EQ(sentences.size(), 1u) << All(sentences);
  EXPECT_EQ(sentences[0],
            "namespace0.0 (/dev/dax0.0): namespace uuid changed from "
            "6e9c8a2f-1111-4c1e-9a55-0123456789ab to 99999999-1111-4c1e-9a55-0123456789ab (the "
            "namespace was re-created or reconfigured on the host: the data the guest wrote is "
            "gone)");

  HostNamespace fsdax = reconfigured;
  fsdax.mode = NamespaceMode::kFsdax;
  fsdax.chardev.clear();
  fsdax.device_path = "/dev/pmem0";
  const std::string text = All(CompareLayouts(old_record, RecordOf({Planned(fsdax)})));
  ExpectHas(text, {"namespace uuid changed", "and mode changed from devdax to fsdax",
                   "data the guest wrote is gone",
                   "device node changed from /dev/dax0.0 to /dev/pmem0", "<pmem/> dropped"});
}

TEST(LayoutCompareTest, MovedDeviceNodeAndNodeKeepTheData) {
  const auto old_record = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  HostNamespace moved = DevdaxNamespace(502 * MiB);
  moved.dev = "namespace1.0";
  moved.device_path = "/dev/dax1.0";
  PlannedDevice planned = Planned(moved);
  planned.node = 1;
  const std::string text = All(CompareLayouts(old_record, RecordOf({planned})));
  ExpectHas(text, {"ndctl name changed from namespace0.0 to namespace1.0 (same namespace; data "
                   "unaffected)",
                   "device node changed from /dev/dax0.0 to /dev/dax1.0 (same namespace; data "
                   "unaffected)",
                   "guest NUMA node 0 -> 1"});
  EXPECT_EQ(text.find("gone"), std::string::npos) << text;
}

TEST(LayoutCompareTest, AddedAndRemovedDevices) {
  HostNamespace second = DevdaxNamespace(1 * GiB);
  second.dev = "namespace1.0";
  second.uuid = "7f0d9b30-2222-4d2f-8b66-123456789abc";
  second.device_path = "/dev/dax1.0";
  const auto one = RecordOf({Planned(DevdaxNamespace(502 * MiB))});
  const auto two = RecordOf({Planned(DevdaxNamespace(502 * MiB)), Planned(second)});
  const auto added = CompareLayouts(one, two);
  ASSERT_EQ(added.size(), 1u) << All(added);
  ExpectHas(added[0], {"namespace1.0 (/dev/dax1.0): new in the domain", "896 MiB"});
  const auto removed = CompareLayouts(two, one);
  ASSERT_EQ(removed.size(), 1u) << All(removed);
  ExpectHas(removed[0], {"namespace1.0 (/dev/dax1.0): no longer in the domain",
                         "its data stays on the host namespace"});
}

}  // namespace
}  // namespace nvh
