#include "xml/aarch64_acpi.h"

#include <gtest/gtest.h>

#include <string>

#include "core/plan.h"
#include "core/sizing.h"
#include "xml/domain_xml.h"

namespace nvh {
namespace {

std::string Aarch64Domain(const std::string& type, const std::string& os_extra,
                          const std::string& cpu) {
  return "<domain type='" + type +
         "'>\n"
         "  <name>arm1</name>\n"
         "  <memory unit='MiB'>256</memory>\n"
         "  <os>\n"
         "    <type arch='aarch64' machine='virt'>hvm</type>\n" +
         os_extra + "  </os>\n" + cpu +
         "  <devices>\n"
         "    <emulator>/usr/bin/qemu-system-aarch64</emulator>\n"
         "  </devices>\n"
         "</domain>\n";
}

Plan ArmPlan() {
  Plan plan;
  plan.domain = "arm1";
  plan.arch = Arch::kAarch64;
  PlannedDevice device;
  device.path = "/dev/dax0.0";
  device.layout = Layout{386 * MiB, 128 * KiB, 2 * MiB, 384 * MiB, true};
  plan.devices.push_back(device);
  return plan;
}

std::vector<std::string> ApplyTo(const std::string& text, std::string* out) {
  auto xml = DomainXml::Parse(text, "arm1.xml");
  EXPECT_TRUE(xml) << (xml ? "" : xml.error().message);
  auto changes = xml->Apply(ArmPlan());
  *out = xml->Serialize();
  // A second rewrite changes nothing.
  EXPECT_TRUE(xml->Apply(ArmPlan()).empty());
  return changes;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int Count(const std::vector<std::string>& changes, const std::string& part) {
  int n = 0;
  for (const std::string& c : changes) n += Contains(c, part) ? 1 : 0;
  return n;
}

TEST(Aarch64Acpi, AddsUefiWithoutSecureBootAndTheMaximumCpuUnderTcg) {
  std::string out;
  const auto changes = ApplyTo(Aarch64Domain("qemu", "", ""), &out);
  EXPECT_EQ(Count(changes, "added <os firmware='efi'>"), 1);
  EXPECT_EQ(Count(changes, "added <cpu mode='maximum'>"), 1);
  EXPECT_TRUE(Contains(out,
                       "<os firmware=\"efi\">\n"
                       "    <type arch=\"aarch64\" machine=\"virt\">hvm</type>\n"
                       "    <firmware>\n"
                       "      <feature enabled=\"no\" name=\"secure-boot\"/>\n"
                       "    </firmware>\n"))
      << out;
  EXPECT_TRUE(Contains(out, "<cpu mode=\"maximum\"")) << out;
}

TEST(Aarch64Acpi, HostPassthroughUnderKvm) {
  std::string out;
  const auto changes = ApplyTo(Aarch64Domain("kvm", "", ""), &out);
  EXPECT_EQ(Count(changes, "added <cpu mode='host-passthrough'>"), 1);
  EXPECT_TRUE(Contains(out, "<cpu mode=\"host-passthrough\"")) << out;
}

TEST(Aarch64Acpi, LeavesTheDomainsOwnFirmwareAndCpuAlone) {
  std::string out;
  const auto changes = ApplyTo(
      Aarch64Domain("qemu",
                    "    <loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd"
                    "</loader>\n",
                    "  <cpu mode='custom'><model>cortex-a57</model></cpu>\n"),
      &out);
  EXPECT_EQ(Count(changes, "firmware"), 0);
  EXPECT_EQ(Count(changes, "<cpu mode"), 0);
  EXPECT_FALSE(Contains(out, "firmware=")) << out;
  EXPECT_TRUE(Contains(out, "<model>cortex-a57</model>")) << out;
}

TEST(Aarch64Acpi, NothingForOtherArchitecturesOrWithoutDevices) {
  auto xml = DomainXml::Parse(Aarch64Domain("qemu", "", ""), "arm1.xml");
  ASSERT_TRUE(xml);
  Plan empty = ArmPlan();
  empty.devices.clear();
  EXPECT_EQ(Count(xml->Apply(empty), "firmware"), 0);
  Plan x86 = ArmPlan();
  x86.arch = Arch::kX86_64;
  EXPECT_EQ(Count(xml->Apply(x86), "firmware"), 0);
}

}  // namespace
}  // namespace nvh
