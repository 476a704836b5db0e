// The probe's command line and its refusals before anything is spawned. The
// runs against the real QEMU and the fake emulator are in tests/probe
// (CTest label `probe`).
#include "probe/qemu_probe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/sizing.h"
#include "probe/layout_check.h"

namespace nvh {
namespace {

ProbeRequest Request() {
  ProbeRequest r;
  r.emulator = "/usr/bin/qemu-system-x86_64";
  r.machine = "pc-i440fx-7.2";
  r.target_size = 386 * MiB;
  r.label_size = 128 * KiB;
  r.align_size = 2 * MiB;
  return r;
}

// The argument that follows `option`, or "" when the option is absent.
std::string After(const std::vector<std::string>& args, const std::string& option) {
  const auto it = std::find(args.begin(), args.end(), option);
  return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
}

bool Has(const std::vector<std::string>& args, const std::string& word) {
  return std::find(args.begin(), args.end(), word) != args.end();
}

TEST(ProbeCommandLine, PausedIsolatedTcgWithThePlannedGeometry) {
  const auto args = ProbeCommandLine(Request(), "/tmp/x/backing");
  EXPECT_EQ(args.front(), "/usr/bin/qemu-system-x86_64");
  for (const char* word : {"-S", "-nodefaults", "-no-user-config"}) EXPECT_TRUE(Has(args, word));
  EXPECT_EQ(After(args, "-display"), "none");
  EXPECT_EQ(After(args, "-nic"), "none");
  EXPECT_EQ(After(args, "-sandbox"),
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  EXPECT_EQ(After(args, "-machine"), "pc-i440fx-7.2,nvdimm=on,accel=tcg");
  EXPECT_EQ(After(args, "-m"), "128M,slots=1,maxmem=2176M");
  EXPECT_EQ(After(args, "-object"),
            "memory-backend-file,id=mem0,mem-path=/tmp/x/backing,share=on,size=404750336,"
            "align=2097152");
  EXPECT_EQ(After(args, "-device"), "nvdimm,id=nvdimm0,memdev=mem0,label-size=131072");
  EXPECT_EQ(After(args, "-qmp"), "stdio");
  // Never prealloc: the sparse file must stay sparse.
  for (const std::string& arg : args) EXPECT_EQ(arg.find("prealloc"), std::string::npos) << arg;
}

TEST(ProbeCommandLine, OptionalParts) {
  ProbeRequest r = Request();
  r.machine = "";
  r.align_size = 0;
  r.label_size = 0;
  r.pmem = true;
  r.sandbox = false;
  const auto args = ProbeCommandLine(r, "/tmp/a,b/backing");
  EXPECT_EQ(After(args, "-machine"), "nvdimm=on,accel=tcg");
  // A comma in a value is doubled, or QEMU would read an option "b/backing".
  EXPECT_EQ(After(args, "-object"),
            "memory-backend-file,id=mem0,mem-path=/tmp/a,,b/backing,share=on,size=404750336,"
            "pmem=on");
  EXPECT_EQ(After(args, "-device"), "nvdimm,id=nvdimm0,memdev=mem0");
  EXPECT_FALSE(Has(args, "-sandbox"));
}

// The command line of Request()'s geometry for another machine.
std::vector<std::string> ArgsFor(const std::string& emulator, const std::string& machine,
                                 Arch arch) {
  ProbeRequest r = Request();
  r.emulator = emulator;
  r.machine = machine;
  r.arch = arch;
  return ProbeCommandLine(r, "/tmp/x/backing");
}

TEST(ProbeCommandLine, Ppc64HasRamIn256MiBStepsAndAnNvdimmUuid) {
  const auto args = ArgsFor("/usr/bin/qemu-system-ppc64", "pseries", Arch::kPpc64);
  EXPECT_EQ(After(args, "-machine"), "pseries,nvdimm=on,accel=tcg");
  EXPECT_EQ(After(args, "-m"), "256M,slots=1,maxmem=2304M");
  EXPECT_EQ(After(args, "-device"),
            "nvdimm,id=nvdimm0,memdev=mem0,label-size=131072,"
            "uuid=4e56482d-7072-6f62-6500-000000000001");
  EXPECT_FALSE(Has(args, "-cpu"));
}

TEST(ProbeCommandLine, Aarch64HasA64BitCpuFirmwareAndVirt) {
  const auto args = ArgsFor("/usr/bin/qemu-system-aarch64", "", Arch::kAarch64);
  EXPECT_EQ(After(args, "-machine"), "virt,nvdimm=on,accel=tcg");
  EXPECT_EQ(After(args, "-cpu"), "max");
  EXPECT_EQ(After(args, "-bios"), "/tmp/x/backing.firmware");
  EXPECT_EQ(After(args, "-m"), "128M,slots=1,maxmem=2176M");
  EXPECT_EQ(After(args, "-device"), "nvdimm,id=nvdimm0,memdev=mem0,label-size=131072");
}

TEST(ProbeMaxMemory, RamPlusTargetRoundedToGiBPlusOneGiB) {
  EXPECT_EQ(ProbeMaxMemory(386 * MiB), 128 * MiB + 2 * GiB);
  EXPECT_EQ(ProbeMaxMemory(1 * GiB), 128 * MiB + 2 * GiB);
  EXPECT_EQ(ProbeMaxMemory(1 * GiB + 1), 128 * MiB + 3 * GiB);
  // pseries: RAM and maxmem stay 256 MiB multiples.
  EXPECT_EQ(ProbeMaxMemory(386 * MiB, Arch::kPpc64), 256 * MiB + 2 * GiB);
}

TEST(ProbeQemu, RefusesBeforeSpawning) {
  ProbeRequest r = Request();
  r.emulator = "qemu-system-x86_64";
  auto result = ProbeQemu(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);

  r.emulator = "/nonexistent/qemu-system-x86_64";
  result = ProbeQemu(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(result.error().message.find("/nonexistent/qemu-system-x86_64"), std::string::npos);

  r.emulator = "/";
  result = ProbeQemu(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kNotFound);

  // A machine "type" smuggling options into -machine.
  r = Request();
  r.emulator = "/bin/true";
  r.machine = "pc,memory-backend=x";
  result = ProbeQemu(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find("pc,memory-backend=x"), std::string::npos);

  r.machine = "pc";
  r.target_size = 0;
  result = ProbeQemu(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
}

TEST(ProbeRequestFor, TheDomainsBinaryAndMachineWithThePlannedLayout) {
  Domain domain;
  domain.emulator = "/usr/libexec/qemu-kvm";
  domain.machine = "pc-q35-7.2";
  PlannedDevice device;
  device.layout = Layout{514 * MiB, 256 * KiB, 2 * MiB, 512 * MiB, true};
  const ProbeRequest r = ProbeRequestFor(domain, device);
  EXPECT_EQ(r.emulator, "/usr/libexec/qemu-kvm");
  EXPECT_EQ(r.machine, "pc-q35-7.2");
  EXPECT_EQ(r.target_size, 514 * MiB);
  EXPECT_EQ(r.label_size, 256 * KiB);
  EXPECT_EQ(r.align_size, 2 * MiB);
  EXPECT_TRUE(r.pmem);
}

TEST(DeviceLayoutCheck, MismatchNamesBinaryDeviceAndBothNumbers) {
  DeviceLayoutCheck c;
  c.device = "/dev/dax0.0";
  c.request = Request();
  c.expected = ExpectedLayout{384 * MiB, 128 * KiB};
  c.measured.guest_size = 384 * MiB;
  c.measured.label_size = 128 * KiB;
  EXPECT_TRUE(c.matches());
  EXPECT_EQ(c.Mismatch(), "");

  c.measured.guest_size = 382 * MiB;
  c.measured.label_size = 256 * KiB;
  c.measured.qemu_version = "7.2.22";
  EXPECT_FALSE(c.matches());
  const std::string m = c.Mismatch();
  for (const std::string part : {"/usr/bin/qemu-system-x86_64", "7.2.22", "/dev/dax0.0",
                                 "402653184", "400556032", "131072", "262144"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " not in " << m;
  }
}

}  // namespace
}  // namespace nvh
