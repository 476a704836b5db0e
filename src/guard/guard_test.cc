#include "guard/guard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/plan_testing.h"
#include "guard/relevance.h"
#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

class FixedInventory final : public Inventory {
 public:
  explicit FixedInventory(Result<HostNamespaces> namespaces) : namespaces_(std::move(namespaces)) {}
  Result<HostNamespaces> List() override { return namespaces_; }

 private:
  Result<HostNamespaces> namespaces_;
};

// No domain has a QEMU: claims go stale only by age.
class NoQemu final : public OwnerLiveness {
 public:
  QemuState QemuOf(const std::string&) const override { return QemuState::kNotRunning; }
};

HostNamespace DaxNamespace(std::uint64_t size = 526385152) {
  HostNamespace ns;
  ns.dev = "namespace0.0";
  ns.uuid = "c3ced113-e676-47b2-b173-b7f7d08b2206";
  ns.mode = NamespaceMode::kDevdax;
  ns.size = size;
  ns.align = 2 * MiB;
  ns.numa_node = 0;
  ns.chardev = "dax0.0";
  ns.device_path = "/dev/dax0.0";
  return ns;
}

// An annotated domain with the planned device applied, as `rewrite` leaves it.
Domain PlannedDomain(const std::string& name, const std::string& uuid, const HostNamespaces& inv) {
  Domain d;
  d.name = name;
  d.uuid = uuid;
  d.memory = 256 * MiB;
  d.annotation = Annotation{{NvdimmRequest{SelectorKind::kUuid, inv[0].uuid, {}, {}}}};
  auto plan = MakePlan(d, inv);
  EXPECT_TRUE(plan) << plan.error().message;
  return plan ? testing_support::ApplyPlanByHand(d, *plan) : d;
}

class GuardTest : public testing::Test {
 protected:
  Guard MakeGuard() {
    GuardParts parts;
    parts.config = config_;
    parts.config.run_dir = dir_.path() + "/run";
    parts.config.state_dir = dir_.path() + "/state";
    parts.open_inventory = [this] { return std::make_unique<FixedInventory>(inventory_); };
    parts.claims = std::make_shared<ClaimStore>(parts.config.run_dir, std::chrono::seconds(300),
                                                std::make_shared<NoQemu>());
    parts.layouts = std::make_shared<LayoutStore>(parts.config.state_dir);
    parts.log = &log_;
    return Guard(std::move(parts));
  }
  HookOutcome Call(const std::string& op, const Domain& d) {
    return MakeGuard().Run(HookInvocation{d.name, op, "begin", ""}, d);
  }

  ScopedTempDir dir_;
  HookConfig config_ = [this] {
    HookConfig c;
    c.libvirt_snapshot_dirs = {dir_.path() + "/no-snapshots"};
    c.libvirt_run_dirs = {dir_.path() + "/no-run"};
    return c;
  }();
  Result<HostNamespaces> inventory_ = HostNamespaces{DaxNamespace()};
  MemoryDecisionLog log_;
  const Domain vm1_ = PlannedDomain("vm1", "11111111-1111-1111-1111-111111111111", *inventory_);
  const Domain vm2_ = PlannedDomain("vm2", "22222222-2222-2222-2222-222222222222", *inventory_);
};

TEST_F(GuardTest, PrepareAllowsAPlannedDomainAndClaimsItsNamespace) {
  EXPECT_EQ(Call("prepare", vm1_).exit_code, 0);
  const auto second = Call("prepare", vm2_);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.user_message.find("vm1"), std::string::npos) << second.user_message;
  EXPECT_NE(second.user_message.find("11111111-1111-1111-1111-111111111111"), std::string::npos);
  // The same domain may prepare again (a retried start).
  EXPECT_EQ(Call("prepare", vm1_).exit_code, 0);
}

TEST_F(GuardTest, ReleaseFreesTheNamespace) {
  ASSERT_EQ(Call("prepare", vm1_).exit_code, 0);
  EXPECT_EQ(Call("stopped", vm1_).exit_code, 0);
  EXPECT_EQ(Call("release", vm1_).exit_code, 0);
  EXPECT_EQ(Call("prepare", vm2_).exit_code, 0);
}

TEST_F(GuardTest, CheckTakesNoClaimButSeesOthers) {
  EXPECT_EQ(MakeGuard().Check(vm1_).exit_code, 0);
  EXPECT_EQ(Call("prepare", vm2_).exit_code, 0);  // vm1's check claimed nothing
  const auto check = MakeGuard().Check(vm1_);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.user_message.find("vm2"), std::string::npos);
}

TEST_F(GuardTest, HandEditedSizeIsRefusedWithTheSyncLine) {
  Domain edited = vm1_;
  edited.memory_devices[0].target_size = 512 * MiB;
  const auto outcome = Call("prepare", edited);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("target size is 512 MiB, the plan says 386 MiB"),
            std::string::npos)
      << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("nvdimmctl sync vm1"), std::string::npos);
}

TEST_F(GuardTest, StartRefusesASizeLibvirtChanged) {
  ASSERT_EQ(Call("prepare", vm1_).exit_code, 0);
  Domain rounded = vm1_;
  rounded.memory_devices[0].target_size += 2 * MiB;  // what a different rounding would do
  const auto outcome = Call("start", rounded);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("libvirt changed"), std::string::npos);
}

TEST_F(GuardTest, AGrownNamespaceKeepsTheLayoutTheGuestRanWith) {
  ASSERT_EQ(Call("prepare", vm1_).exit_code, 0);
  ASSERT_EQ(Call("start", vm1_).exit_code, 0);  // records the layout
  ASSERT_EQ(Call("release", vm1_).exit_code, 0);
  inventory_ = HostNamespaces{DaxNamespace(1 * GiB)};  // the admin grew the namespace
  const auto outcome = MakeGuard().Check(vm1_);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.user_message;
  ASSERT_EQ(outcome.notes.size(), 1u);
  EXPECT_NE(outcome.notes[0].find("kept: existing layout from the layout record"),
            std::string::npos)
      << outcome.notes[0];
  EXPECT_NE(outcome.notes[0].find("--relayout"), std::string::npos) << outcome.notes[0];
}

TEST_F(GuardTest, AShrunkNamespaceIsRefusedWithASafeCommand) {
  ASSERT_EQ(Call("prepare", vm1_).exit_code, 0);
  ASSERT_EQ(Call("release", vm1_).exit_code, 0);
  inventory_ = HostNamespaces{DaxNamespace(300 * MiB)};  // the recorded 386 MiB no longer fits
  const auto outcome = Call("prepare", vm1_);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("cannot be kept"), std::string::npos) << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("To see what would move: nvdimmctl sync vm1\n"),
            std::string::npos)
      << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("nvdimmctl sync vm1 --relayout"), std::string::npos);
}

TEST_F(GuardTest, AHandEditAfterAStartIsRefusedAndSyncRestoresTheRecord) {
  ASSERT_EQ(Call("prepare", vm1_).exit_code, 0);  // records the layout at the first start
  ASSERT_EQ(Call("release", vm1_).exit_code, 0);
  Domain edited = vm1_;
  edited.memory_devices[0].target_size = 384 * MiB;  // valid, but not what the guest saw
  const auto outcome = Call("prepare", edited);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("target size is 384 MiB, the plan says 386 MiB"),
            std::string::npos)
      << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("To fix: nvdimmctl sync vm1 (it keeps"), std::string::npos);
  EXPECT_EQ(outcome.user_message.find("--relayout"), std::string::npos) << outcome.user_message;
}

TEST_F(GuardTest, AMemorySnapshotRefusesPrepareNamingItAndTheFix) {
  const std::string snapshots = dir_.path() + "/snapshot";
  std::filesystem::create_directories(snapshots + "/vm1");
  std::ofstream(snapshots + "/vm1/s1.xml")
      << "<domainsnapshot><name>s1</name><state>running</state><memory snapshot='internal'/>"
         "<domain><name>vm1</name><uuid>11111111-1111-1111-1111-111111111111</uuid></domain>"
         "</domainsnapshot>";
  config_.libvirt_snapshot_dirs = {snapshots};
  const auto outcome = Call("prepare", vm1_);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("snapshots with memory state: 's1'"), std::string::npos)
      << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("To fix: virsh snapshot-delete vm1 s1"), std::string::npos);
  EXPECT_EQ(Call("prepare", vm2_).exit_code, 0);  // another domain's snapshot is not vm2's
}

TEST_F(GuardTest, ANamespaceMappedLiveByAnotherDomainIsRefused) {
  const std::string run = dir_.path() + "/libvirt-run";
  std::filesystem::create_directories(run);
  std::ofstream(run + "/other.xml")
      << "<domstatus><domain><name>other</name><uuid>33333333-3333-3333-3333-333333333333</uuid>"
         "<devices><memory model='nvdimm'><source><path>/dev/dax0.0</path></source></memory>"
         "</devices></domain></domstatus>";
  config_.libvirt_run_dirs = {run};
  const auto outcome = MakeGuard().Check(vm1_);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.user_message.find("mapped by running domain 'other'"), std::string::npos)
      << outcome.user_message;
  EXPECT_NE(outcome.user_message.find("attach-device --live"), std::string::npos);
}

TEST_F(GuardTest, MigrateAndRestoreAreRefused) {
  const auto migrate = Call("migrate", vm1_);
  EXPECT_EQ(migrate.exit_code, 1);
  EXPECT_NE(migrate.user_message.find("migration refused"), std::string::npos);
  const auto restore = Call("restore", vm1_);
  EXPECT_EQ(restore.exit_code, 1);
  EXPECT_NE(restore.user_message.find("managedsave-remove vm1"), std::string::npos);
}

TEST_F(GuardTest, BrokenInventoryRefusesPrepareButNeverReconnect) {
  inventory_ = std::unexpected(Error{ErrorKind::kSystem, "libndctl: no context"});
  const auto prepare = Call("prepare", vm1_);
  EXPECT_EQ(prepare.exit_code, 1);
  EXPECT_NE(prepare.user_message.find("libndctl: no context"), std::string::npos);
  EXPECT_EQ(Call("reconnect", vm1_).exit_code, 0);
  EXPECT_EQ(Call("release", vm1_).exit_code, 0);
}

TEST_F(GuardTest, ReconnectRetakesTheClaim) {
  ASSERT_EQ(Call("reconnect", vm1_).exit_code, 0);
  EXPECT_EQ(Call("prepare", vm2_).exit_code, 1);
}

TEST(Relevance, FastPathNeedsNoParse) {
  EXPECT_FALSE(MayConcernNvdimm("<domain><name>plain</name></domain>"));
  EXPECT_TRUE(MayConcernNvdimm("<memory model='nvdimm'>"));
  EXPECT_TRUE(IsGuardedOperation("prepare"));
  EXPECT_FALSE(IsGuardedOperation("attach"));
}

TEST(Relevance, FileBackedNvdimmOutsideTheDeviceDirIsNotOurs) {
  Domain d;
  MemoryDevice file;
  file.model = "nvdimm";
  file.source_path = "/var/lib/libvirt/images/nv.img";
  d.memory_devices.push_back(file);
  EXPECT_EQ(Classify(d, "/dev"), Relevance::kNone);
  d.memory_devices[0].source_path = "/dev/pmem0";
  EXPECT_EQ(Classify(d, "/dev"), Relevance::kDevice);
  d.annotation = Annotation{{NvdimmRequest{SelectorKind::kPath, "/dev/pmem0", {}, {}}}};
  EXPECT_EQ(Classify(d, "/dev"), Relevance::kAnnotated);
}

}  // namespace
}  // namespace nvh
