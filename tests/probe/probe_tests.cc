// The probe against the real QEMU (Debian 12: qemu-system-x86 7.2, TCG) and
// against tests/probe/fake-qemu. The real runs prove that the planner's guest
// size is what QEMU itself computes on a grid of geometries and that a wrong
// plan is caught; the fake runs prove that the layout check the hook calls at
// `prepare` refuses a QEMU that measures differently, names it and both
// numbers, reuses its cached measurement, forgets it when the binary changes,
// and never leaves a process or a file behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/sizing.h"
#include "probe/layout_check.h"
#include "probe/probe_cache.h"
#include "probe/qemu_probe.h"
#include "util/bytes.h"
#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

constexpr char kQemu[] = "/usr/bin/qemu-system-x86_64";
const std::string kFakeQemu = std::string(NVH_PROBE_TEST_DIR) + "/fake-qemu";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A directory the probe's unprivileged child can enter: ScopedTempDir makes
// it 0700 for root.
class OpenTempDir {
 public:
  OpenTempDir() { std::filesystem::permissions(dir_.path(), std::filesystem::perms(0755)); }
  const std::string& path() const { return dir_.path(); }

 private:
  ScopedTempDir dir_;
};

PlannedDevice Planned(const std::string& path, const Layout& layout) {
  PlannedDevice device;
  device.path = path;
  device.layout = layout;
  return device;
}

std::string Describe(const ProbeRequest& r) {
  return "S=" + FormatSize(r.target_size) + " L=" + FormatSize(r.label_size) +
         " A=" + FormatSize(r.align_size) + (r.pmem ? " pmem" : "") +
         " machine=" + (r.machine.empty() ? std::string("default") : r.machine);
}

// --- the real QEMU ---------------------------------------------------------

struct GridCase {
  std::string name;
  Geometry geometry;
  std::string machine = "pc";
  std::string emulator = kQemu;
};

std::vector<GridCase> Grid() {
  auto g = [](std::uint64_t d, NamespaceMode mode, std::uint64_t align,
              std::uint64_t label = kMinLabelSize) {
    return Geometry{d, mode, align, label, Arch::kX86_64};
  };
  const std::uint64_t emulated = 526385152;  // FACTS.md: the emulated devdax/fsdax size
  return {
      {"devdax 502MiB (emulated host) align 2M", g(emulated, NamespaceMode::kDevdax, 2 * MiB)},
      {"devdax 502MiB q35", g(emulated, NamespaceMode::kDevdax, 2 * MiB), "q35"},
      {"devdax 502MiB pc-i440fx-7.2", g(emulated, NamespaceMode::kDevdax, 2 * MiB),
       "pc-i440fx-7.2"},
      {"devdax 1GiB align 2M", g(GiB, NamespaceMode::kDevdax, 2 * MiB)},
      {"devdax 1GiB align 2M label 256K", g(GiB, NamespaceMode::kDevdax, 2 * MiB, 256 * KiB)},
      {"devdax 3GiB+16MiB align 2M", g(3 * GiB + 16 * MiB, NamespaceMode::kDevdax, 2 * MiB)},
      {"devdax 8GiB align 2M", g(8 * GiB, NamespaceMode::kDevdax, 2 * MiB)},
      {"devdax 2GiB align 1G", g(2 * GiB, NamespaceMode::kDevdax, GiB)},
      {"devdax 5GiB align 1G", g(5 * GiB, NamespaceMode::kDevdax, GiB)},
      {"fsdax 502MiB align 2M", g(emulated, NamespaceMode::kFsdax, 2 * MiB)},
      {"raw 256MiB", g(256 * MiB, NamespaceMode::kRaw, 0)},
      {"raw 2GiB+64MiB", g(2 * GiB + 64 * MiB, NamespaceMode::kRaw, 0)},
  };
}

constexpr char kQemuPpc64[] = "/usr/bin/qemu-system-ppc64";
constexpr char kQemuAarch64[] = "/usr/bin/qemu-system-aarch64";

// pseries and virt (Debian 12 qemu-system-ppc / qemu-system-arm 7.2): the
// probe's own command line must satisfy each machine, and the plan's
// per-architecture rules (256 MiB SCM blocks and the devdax label on ppc64,
// the 64 KiB label granule and 128 MiB blocks on aarch64) must be QEMU's.
std::vector<GridCase> OtherArchGrid() {
  auto g = [](Arch arch, std::uint64_t d, NamespaceMode mode, std::uint64_t align,
              std::uint64_t label = kMinLabelSize,
              std::uint64_t block = 0) { return Geometry{d, mode, align, label, arch, block}; };
  const std::uint64_t emulated = 526385152;
  const Arch ppc = Arch::kPpc64;
  const Arch arm = Arch::kAarch64;
  return {
      {"ppc64 raw 1GiB", g(ppc, GiB, NamespaceMode::kRaw, 0), "pseries", kQemuPpc64},
      {"ppc64 raw 1GiB+128K", g(ppc, GiB + 128 * KiB, NamespaceMode::kRaw, 0), "pseries-7.2",
       kQemuPpc64},
      {"ppc64 devdax 502MiB align 2M", g(ppc, emulated, NamespaceMode::kDevdax, 2 * MiB), "pseries",
       kQemuPpc64},
      {"ppc64 devdax 1GiB align 16M", g(ppc, GiB, NamespaceMode::kDevdax, 16 * MiB), "pseries",
       kQemuPpc64},
      {"ppc64 devdax 3GiB align 1G (256M label)", g(ppc, 3 * GiB, NamespaceMode::kDevdax, GiB),
       "pseries", kQemuPpc64},
      {"ppc64 raw 2GiB label 132K", g(ppc, 2 * GiB, NamespaceMode::kRaw, 0, 132 * KiB), "",
       kQemuPpc64},
      {"aarch64 devdax 502MiB align 2M", g(arm, emulated, NamespaceMode::kDevdax, 2 * MiB), "virt",
       kQemuAarch64},
      {"aarch64 raw 1GiB label 132K", g(arm, GiB, NamespaceMode::kRaw, 0, 132 * KiB), "virt-7.2",
       kQemuAarch64},
      {"aarch64 devdax 3GiB align 1G", g(arm, 3 * GiB, NamespaceMode::kDevdax, GiB), "virt",
       kQemuAarch64},
      {"aarch64 fsdax 2GiB+10MiB 1G blocks",
       g(arm, 2 * GiB + 10 * MiB, NamespaceMode::kFsdax, 2 * MiB, kMinLabelSize, GiB), "",
       kQemuAarch64},
  };
}

void ExpectGridMatches(const std::vector<GridCase>& grid) {
  std::vector<std::string> warnings;
  for (const GridCase& c : grid) {
    SCOPED_TRACE(c.name);
    auto layout = ComputeLayout(c.geometry);
    ASSERT_TRUE(layout) << layout.error().message;
    Domain domain;
    domain.emulator = c.emulator;
    domain.machine = c.machine;
    domain.arch = c.geometry.arch;
    const ProbeRequest request = ProbeRequestFor(domain, Planned("/dev/x", *layout));
    auto check = MeasureLayout(request, ExpectedFor(*layout), "", warnings);
    ASSERT_TRUE(check) << check.error().message;
    std::cout << "measured: " << c.name << ": " << Describe(request) << " -> plan G "
              << layout->guest_size << ", QEMU " << check->measured.qemu_version << " G "
              << check->measured.guest_size << " (" << FormatSize(check->measured.guest_size)
              << ") label " << check->measured.label_size << " addr 0x" << std::hex
              << check->measured.addr << std::dec << " in "
              << check->measured.elapsed.count() / 1000 << " ms\n";
    EXPECT_TRUE(check->matches()) << check->Mismatch();
    EXPECT_EQ(check->measured.guest_size,
              QemuGuestSize(layout->target_size, layout->label_size, layout->align_size));
  }
}

TEST(RealQemu, Ppc64AndAarch64GuestSizeEqualsThePlanOnTheGrid) {
  ExpectGridMatches(OtherArchGrid());
}

// What the probe did before it knew the machines: an x86-style command line
// on virt. QEMU refuses its own command line, and the probe says so in
// QEMU's words instead of blaming the geometry.
TEST(RealQemu, AProbeCommandLineQemuRefusesSaysProbeFailed) {
  ProbeRequest r;
  r.emulator = kQemuAarch64;
  r.machine = "virt";
  r.arch = Arch::kX86_64;  // no -cpu max, no firmware: no acpi-ged
  r.target_size = 386 * MiB;
  r.label_size = 128 * KiB;
  r.align_size = 2 * MiB;
  auto result = ProbeQemu(r);
  ASSERT_FALSE(result);
  std::cout << "refused: " << result.error().message << "\n";
  EXPECT_TRUE(Contains(result.error().message, "probe failed: QEMU said: "));
  EXPECT_TRUE(Contains(result.error().message, "acpi-ged"));
  EXPECT_FALSE(Contains(result.error().message, "geometry"));
}

TEST(RealQemu, GuestSizeEqualsThePlanOnTheGrid) {
  ExpectGridMatches(Grid());
}

// Geometries written by hand, as an admin or another tool might: the 386 MiB
// devdax example and 1 GiB alignments, against sizing.h's model of QEMU.
TEST(RealQemu, QemuGuestSizeModelHoldsForHandWrittenGeometries) {
  struct Case {
    std::uint64_t s, l, a;
    bool pmem;
  };
  const Case cases[] = {
      {386 * MiB, 128 * KiB, 2 * MiB, true},      // G = 384 MiB
      {386 * MiB, 128 * KiB, 2 * MiB, false},     //
      {514 * MiB, 2 * MiB, 2 * MiB, false},       // Nova's 2 MiB label
      {3 * GiB + 2 * MiB, 128 * KiB, GiB, true},  // G = 3 GiB
      {4 * GiB, 128 * KiB, GiB, false},           // G = 3 GiB: one whole GiB lost
      {1 * GiB + 1 * MiB, 128 * KiB, 4 * KiB, false},
  };
  std::vector<std::string> warnings;
  for (const Case& c : cases) {
    ProbeRequest r;
    r.emulator = kQemu;
    r.machine = "pc";
    r.target_size = c.s;
    r.label_size = c.l;
    r.align_size = c.a;
    r.pmem = c.pmem;
    SCOPED_TRACE(Describe(r));
    const ExpectedLayout expected{QemuGuestSize(c.s, c.l, c.a), c.l};
    auto check = MeasureLayout(r, expected, "", warnings);
    ASSERT_TRUE(check) << check.error().message;
    std::cout << "measured: " << Describe(r) << " -> QEMU G " << check->measured.guest_size << " ("
              << FormatSize(check->measured.guest_size) << ") label " << check->measured.label_size
              << "\n";
    EXPECT_TRUE(check->matches()) << check->Mismatch();
  }
}

TEST(RealQemu, WrongPlansAreCaught) {
  const Geometry geometry{GiB, NamespaceMode::kDevdax, 2 * MiB, kMinLabelSize, Arch::kX86_64};
  auto layout = ComputeLayout(geometry);
  ASSERT_TRUE(layout);
  Domain domain;
  domain.emulator = kQemu;
  domain.machine = "pc";
  std::vector<std::string> warnings;
  struct Wrong {
    std::string why;
    Layout probed;    // what libvirt would hand QEMU
    Layout expected;  // what the (wrong) plan believes
  };
  Layout no_room = *layout;  // S = G: no room left for the label
  no_room.target_size = layout->guest_size;
  Layout big_align = *layout;  // the plan assumed 2 MiB, QEMU gets 1 GiB
  big_align.target_size = 1536 * MiB + 2 * MiB;
  big_align.guest_size = 1536 * MiB;
  Layout probed_big_align = big_align;
  probed_big_align.align_size = GiB;
  Layout label_wrong = *layout;  // the plan believes in a 256 KiB label
  label_wrong.label_size = 256 * KiB;
  const Wrong wrongs[] = {
      {"target does not cover G + L", no_room, *layout},
      {"alignsize differs from the plan's", probed_big_align, big_align},
      {"label differs from the plan's", *layout, label_wrong},
  };
  for (const Wrong& w : wrongs) {
    SCOPED_TRACE(w.why);
    const ProbeRequest request = ProbeRequestFor(domain, Planned("/dev/dax0.0", w.probed));
    auto check = MeasureLayout(request, ExpectedFor(w.expected), "", warnings);
    ASSERT_TRUE(check) << check.error().message;
    EXPECT_FALSE(check->matches());
    std::cout << "caught: " << w.why << ": " << check->Mismatch() << "\n";
    EXPECT_TRUE(Contains(check->Mismatch(), kQemu));
  }
}

TEST(RealQemu, AGeometryQemuRefusesIsAnErrorQuotingQemu) {
  ProbeRequest r;
  r.emulator = kQemu;
  r.machine = "pc";
  r.target_size = GiB;  // S - L aligned down to 1 GiB is nothing
  r.label_size = 128 * KiB;
  r.align_size = GiB;
  auto result = ProbeQemu(r);
  ASSERT_FALSE(result);
  std::cout << "refused: " << result.error().message << "\n";
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(Contains(result.error().message, "QEMU refused the planned geometry"));
  EXPECT_TRUE(Contains(result.error().message, "too small to contain nvdimm label"));
  EXPECT_TRUE(Contains(result.error().message, kQemu));
}

TEST(RealQemu, HookCheckProbesOnceThenUsesTheCache) {
  ScopedTempDir temp;
  const std::string state = temp.path() + "/state";
  auto layout = ComputeLayout(
      Geometry{526385152, NamespaceMode::kDevdax, 2 * MiB, kMinLabelSize, Arch::kX86_64});
  ASSERT_TRUE(layout);
  Domain domain;
  domain.name = "vm1";
  domain.emulator = kQemu;
  domain.machine = "pc-i440fx-7.2";
  Plan plan;
  plan.domain = "vm1";
  plan.devices = {Planned("/dev/dax0.0", *layout), Planned("/dev/dax1.0", *layout)};
  LayoutCheckOptions options;
  options.state_dir = state;
  auto first = CheckPlanLayout(domain, plan, options);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->devices.size(), 2u);
  EXPECT_FALSE(first->devices[0].from_cache);
  auto second = CheckPlanLayout(domain, plan, options);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->devices[0].from_cache);
  EXPECT_EQ(second->devices[0].measured.guest_size, layout->guest_size);
  EXPECT_EQ(second->devices[0].measured.qemu_version, first->devices[0].measured.qemu_version);
}

// --- the fake emulator -----------------------------------------------------

class FakeQemu : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::is_regular_file(kFakeQemu)) << kFakeQemu;
    emulator_ = dir_.path() + "/fake-qemu";
    std::filesystem::copy_file(kFakeQemu, emulator_);
    std::filesystem::permissions(emulator_, std::filesystem::perms(0755));
    // Files the unprivileged child writes.
    for (const char* name : {"invocations", "uid", "env", "pid", "mode"}) {
      const std::string path = File(name);
      std::ofstream(path) << "";
      std::filesystem::permissions(path, std::filesystem::perms(0666));
    }
    SetMode("wrong");
    state_ = state_dir_.path() + "/state";
    auto layout = ComputeLayout(
        Geometry{526385152, NamespaceMode::kDevdax, 2 * MiB, kMinLabelSize, Arch::kX86_64});
    ASSERT_TRUE(layout);
    layout_ = *layout;
    domain_.name = "vm1";
    domain_.emulator = emulator_;
    domain_.machine = "pc";
    plan_.domain = "vm1";
    plan_.devices = {Planned("/dev/dax0.0", layout_)};
    options_.state_dir = state_;
    options_.timeout = std::chrono::milliseconds(10000);
  }

  std::string File(const std::string& name) const { return emulator_ + "." + name; }
  void SetMode(const std::string& mode) { std::ofstream(File("mode"), std::ios::trunc) << mode; }
  int Invocations() const { return std::atoi(Slurp(File("invocations")).c_str()); }

  OpenTempDir dir_;
  ScopedTempDir state_dir_;
  std::string emulator_;
  std::string state_;
  Layout layout_;
  Domain domain_;
  Plan plan_;
  LayoutCheckOptions options_;
};

TEST_F(FakeQemu, RefusesNamingTheBinaryAndBothNumbersThenUsesTheCache) {
  auto refused = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_FALSE(refused);
  const std::string& message = refused.error().message;
  std::cout << "refusal: " << message << "\n";
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_TRUE(Contains(message, emulator_));
  EXPECT_TRUE(Contains(message, "/dev/dax0.0"));
  EXPECT_TRUE(Contains(message, std::to_string(layout_.guest_size)));  // expected
  EXPECT_TRUE(
      Contains(message, std::to_string(layout_.guest_size - layout_.align_size)));  // measured
  EXPECT_EQ(Invocations(), 1);

  // The second start: the same refusal, from the cache, no probe.
  auto again = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_FALSE(again);
  EXPECT_TRUE(Contains(again.error().message, std::to_string(layout_.guest_size)));
  EXPECT_TRUE(Contains(again.error().message, "cached"));
  EXPECT_EQ(Invocations(), 1);

  // "Upgrade" by touching the binary: new mtime, the cache misses.
  ASSERT_EQ(utimensat(AT_FDCWD, emulator_.c_str(), nullptr, 0), 0);
  ASSERT_FALSE(CheckPlanLayout(domain_, plan_, options_));
  EXPECT_EQ(Invocations(), 2);
  // A fixed QEMU rewritten over it: probed again, and now it matches.
  SetMode("right");
  std::ofstream(emulator_, std::ios::app) << "# fixed\n";
  auto fixed = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_EQ(Invocations(), 3);
  EXPECT_FALSE(fixed->devices[0].from_cache);
  ASSERT_TRUE(CheckPlanLayout(domain_, plan_, options_));
  EXPECT_EQ(Invocations(), 3);
  std::cout << "fake-qemu invocations: " << Invocations() << "\n";
}

TEST_F(FakeQemu, RunsUnprivilegedWithAnEmptyEnvironmentAndLeavesNothing) {
  setenv("NVH_PROBE_LEAK_CHECK", "must-not-reach-qemu", 1);
  const OpenTempDir scratch;
  ProbeRequest request = ProbeRequestFor(domain_, plan_.devices[0]);
  request.scratch_dir = scratch.path();
  auto measured = ProbeQemu(request);
  unsetenv("NVH_PROBE_LEAK_CHECK");
  ASSERT_TRUE(measured) << measured.error().message;
  EXPECT_EQ(measured->qemu_version, "99.0.0");
  EXPECT_EQ(measured->label_size, layout_.label_size);
  const uid_t expected_uid = geteuid() == 0 ? kProbeUid : geteuid();
  EXPECT_EQ(std::atoi(Slurp(File("uid")).c_str()), static_cast<int>(expected_uid));
  const std::string env = Slurp(File("env"));
  EXPECT_FALSE(Contains(env, "NVH_PROBE_LEAK_CHECK")) << env;
  EXPECT_TRUE(Contains(env, "LC_ALL=\"C\"")) << env;
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path())) << "scratch file left behind";
  const pid_t pid = std::atoi(Slurp(File("pid")).c_str());
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "the emulator is still there";
}

TEST_F(FakeQemu, AHungEmulatorIsKilledAtTheTimeoutAndRefuses) {
  SetMode("hang");
  const OpenTempDir scratch;
  options_.timeout = std::chrono::milliseconds(500);
  options_.scratch_dir = scratch.path();
  const auto start = std::chrono::steady_clock::now();
  auto refused = CheckPlanLayout(domain_, plan_, options_);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(refused);
  std::cout << "refusal: " << refused.error().message << "\n";
  EXPECT_EQ(refused.error().kind, ErrorKind::kSystem);
  EXPECT_TRUE(Contains(refused.error().message, "timed out"));
  EXPECT_TRUE(Contains(refused.error().message, emulator_));
  EXPECT_LT(took, std::chrono::seconds(5));  // the bound holds (generous: not a timing test)
  const pid_t pid = std::atoi(Slurp(File("pid")).c_str());
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kill(pid, 0), -1) << "the hung emulator survived";
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path()));
  // A failed probe is not cached: the next start tries again.
  auto cached =
      ProbeCache(state_).Lookup(*ProbeCacheKey::For(ProbeRequestFor(domain_, plan_.devices[0])));
  ASSERT_TRUE(cached);
  EXPECT_FALSE(*cached);
}

TEST_F(FakeQemu, AnEmulatorThatDiesRefusesQuotingItsStderr) {
  SetMode("crash");
  auto refused = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_FALSE(refused);
  std::cout << "refusal: " << refused.error().message << "\n";
  EXPECT_TRUE(Contains(refused.error().message, "refusing this geometry"));
  EXPECT_TRUE(Contains(refused.error().message, "exit status 1"));
  EXPECT_TRUE(Contains(refused.error().message, emulator_));
}

TEST_F(FakeQemu, AMissingBinaryRefusesWithTheReason) {
  domain_.emulator = dir_.path() + "/qemu-system-gone";
  auto refused = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_FALSE(refused);
  std::cout << "refusal: " << refused.error().message << "\n";
  EXPECT_EQ(refused.error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(Contains(refused.error().message, domain_.emulator));
  EXPECT_TRUE(Contains(refused.error().message, "No such file"));
}

TEST_F(FakeQemu, NoPlannedDeviceNoProbe) {
  plan_.devices.clear();
  auto checked = CheckPlanLayout(domain_, plan_, options_);
  ASSERT_TRUE(checked);
  EXPECT_EQ(Invocations(), 0);
}

TEST_F(FakeQemu, ADamagedCacheIsIgnoredWithAWarningAndRebuilt) {
  SetMode("right");
  std::filesystem::create_directory(state_);
  std::filesystem::permissions(state_, std::filesystem::perms(0700));
  std::ofstream(state_ + "/" + kProbeCacheFile) << "garbage";
  std::vector<std::string> warnings;
  auto checked = CheckPlanLayout(domain_, plan_, options_, &warnings);
  ASSERT_TRUE(checked) << checked.error().message;
  ASSERT_FALSE(warnings.empty());
  EXPECT_TRUE(Contains(warnings.front(), "probe cache ignored")) << warnings.front();
  warnings.clear();
  ASSERT_TRUE(CheckPlanLayout(domain_, plan_, options_, &warnings));
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(Invocations(), 1);
}

}  // namespace
}  // namespace nvh
