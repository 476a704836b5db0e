#include "core/peer_comparison.h"

#include <gtest/gtest.h>

#include "core/plan_json.h"

namespace nvh {
namespace {

// The devdax and fsdax namespaces of examples/inventory.json (502 MiB usable).
HostNamespaces Inventory() {
  HostNamespace dax;
  dax.dev = "namespace0.0";
  dax.uuid = "c3ced113-e676-47b2-b173-b7f7d08b2206";
  dax.mode = NamespaceMode::kDevdax;
  dax.size = 526385152;
  dax.align = 2 * MiB;
  dax.numa_node = 0;
  dax.device_path = "/dev/dax0.0";
  HostNamespace fs = dax;
  fs.dev = "namespace0.1";
  fs.uuid = "97de326a-2191-416f-a39b-be46247ba991";
  fs.mode = NamespaceMode::kFsdax;
  fs.device_path = "/dev/pmem0.1";
  return {dax, fs};
}

Domain Vm(bool numa) {
  Domain d;
  d.name = "vm1";
  d.vcpus = 1;
  d.memory = GiB;
  if (numa) d.numa_cells = {NumaCell{0, GiB}};
  // A 256 KiB label of ours must not leak into the peers' own labels.
  d.annotation = Annotation{{{SelectorKind::kNamespace, "namespace0.0", {}, 256 * KiB},
                             {SelectorKind::kNamespace, "namespace0.1", {}, {}}}};
  return d;
}

TEST(PeerComparison, JsonHasBothPeersPerDeviceAndNoSizesWhereUnsupported) {
  const Domain domain = Vm(true);
  auto plan = MakePlan(domain, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  auto json = PlanToJson(*plan);
  AddPeersToPlanJson(json, domain, *plan);
  const auto& dax = json["devices"][0]["peers"];
  EXPECT_EQ(dax["ovirt"]["supported"], true);
  EXPECT_EQ(dax["ovirt"]["target_size"], 258 * MiB);
  EXPECT_EQ(dax["ovirt"]["label_size"], 128 * KiB);
  EXPECT_EQ(dax["ovirt"]["guest_size"], 256 * MiB);
  EXPECT_EQ(dax["ovirt"]["broken_rules"], nlohmann::ordered_json::array());
  EXPECT_EQ(dax["nova"]["label_size"], 2 * MiB);
  EXPECT_EQ(dax["nova"]["max_memory_slots"], 2);
  EXPECT_EQ(dax["nova"]["guest_size"], 500 * MiB);
  const auto& fs = json["devices"][1]["peers"];
  EXPECT_EQ(fs["ovirt"]["broken_rules"], nlohmann::ordered_json::array({"pmem-only-for-dax"}));
  EXPECT_EQ(fs["nova"].size(), 2u);  // supported and reason only
  EXPECT_EQ(fs["nova"]["supported"], false);
  EXPECT_FALSE(fs["nova"].contains("target_size"));
}

TEST(PeerComparison, OvirtNeedsGuestNuma) {
  const Domain domain = Vm(false);
  auto plan = MakePlan(domain, Inventory());
  ASSERT_TRUE(plan) << plan.error().message;
  const auto peers = ComparePeers(domain, *plan, plan->devices[0]);
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_FALSE(peers[0].supported);
  EXPECT_TRUE(peers[1].supported);
  const auto lines = DescribePeers(domain, *plan, plan->devices[0]);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("oVirt: not supported: ", 0), 0u) << lines[0];
}

}  // namespace
}  // namespace nvh
