#include "xml/domain_xml.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "core/sizing.h"

namespace nvh {
namespace {

// Substring check that prints the whole text on failure.
::testing::AssertionResult Contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found in:\n" << text;
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(NVH_SOURCE_DIR) + "/tests/data/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

DomainXml ParseOk(std::string_view text) {
  auto xml = DomainXml::Parse(text, "test.xml");
  EXPECT_TRUE(xml.has_value()) << (xml ? "" : xml.error().message);
  return std::move(*xml);
}

std::string ParseError(std::string_view text, std::string_view origin = "vm1.xml") {
  auto xml = DomainXml::Parse(text, origin);
  EXPECT_FALSE(xml.has_value());
  if (xml) return {};
  EXPECT_EQ(xml.error().kind, ErrorKind::kInvalidInput);
  return xml.error().message;
}

std::string ReadError(std::string_view text) {
  DomainXml xml = ParseOk(text);
  auto domain = xml.Read();
  EXPECT_FALSE(domain.has_value());
  if (domain) return {};
  EXPECT_EQ(domain.error().kind, ErrorKind::kInvalidInput);
  return domain.error().message;
}

// A small domain as `virsh dumpxml` writes it, with `extra` spliced in at
// the top level and `devices` inside <devices>.
std::string Minimal(const std::string& extra = "", const std::string& devices = "") {
  return "<domain type='kvm'>\n"
         "  <name>vm1</name>\n"
         "  <uuid>5b4f6a2e-3c1d-4e8f-9a7b-0c2d4e6f8a1b</uuid>\n"
         "  <memory unit='KiB'>1048576</memory>\n"
         "  <currentMemory unit='KiB'>1048576</currentMemory>\n"
         "  <vcpu placement='static'>2</vcpu>\n" +
         extra +
         "  <os>\n"
         "    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n"
         "  </os>\n"
         "  <clock offset='utc'/>\n"
         "  <devices>\n"
         "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
         "    <disk type='file' device='disk'>\n"
         "      <source file='/var/lib/libvirt/images/vm1.qcow2'/>\n"
         "      <target dev='vda' bus='virtio'/>\n"
         "    </disk>\n" +
         devices +
         "    <console type='pty'/>\n"
         "  </devices>\n"
         "</domain>\n";
}

PlannedDevice Planned(const std::string& path, std::uint64_t target, std::uint64_t label,
                      std::uint64_t align, int node, bool pmem) {
  PlannedDevice device;
  device.path = path;
  device.node = node;
  device.layout.target_size = target;
  device.layout.label_size = label;
  device.layout.align_size = align;
  device.layout.pmem = pmem;
  device.layout.guest_size = QemuGuestSize(target, label, align);
  return device;
}

// The plan for the fixture's devdax namespace: 386 MiB target.
Plan DaxPlan() {
  Plan plan;
  plan.domain = "vm1";
  plan.devices.push_back(Planned("/dev/dax0.0", 386 * MiB, 128 * KiB, 2 * MiB, 0, true));
  return plan;
}

// ---------------------------------------------------------------- Parse

TEST(DomainXmlParse, AcceptsRealisticDomain) {
  auto xml = DomainXml::Parse(ReadFixture("domain-vm1.xml"), "domain-vm1.xml");
  ASSERT_TRUE(xml.has_value()) << xml.error().message;
}

TEST(DomainXmlParse, RefusesOversizedInputBeforeParsing) {
  std::string text = Minimal();
  text.insert(text.find("</domain>"), std::string(kMaxDomainXmlBytes, ' '));
  const std::string message = ParseError(text);
  EXPECT_TRUE(Contains(message, "vm1.xml"));
  EXPECT_TRUE(Contains(message, std::to_string(text.size())));
}

TEST(DomainXmlParse, AcceptsInputAtTheLimit) {
  std::string text = Minimal();
  text.insert(text.find("</domain>"), std::string(kMaxDomainXmlBytes - text.size(), ' '));
  ASSERT_EQ(text.size(), kMaxDomainXmlBytes);
  EXPECT_TRUE(DomainXml::Parse(text, "big.xml").has_value());
}

TEST(DomainXmlParse, RefusesXxeExternalEntity) {
  const std::string text =
      "<?xml version='1.0'?>\n"
      "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/shadow\">]>\n"
      "<domain type='kvm'><name>vm1&x;</name></domain>\n";
  const std::string message = ParseError(text);
  EXPECT_TRUE(Contains(message, "vm1.xml"));
  EXPECT_TRUE(Contains(message, "DOCTYPE"));
  EXPECT_TRUE(Contains(message, "line 2"));
  EXPECT_FALSE(Contains(message, "root:"));
}

TEST(DomainXmlParse, RefusesBillionLaughs) {
  std::string text = "<?xml version='1.0'?>\n<!DOCTYPE domain [\n <!ENTITY lol0 'lol'>\n";
  for (int i = 1; i < 10; ++i) {
    text += " <!ENTITY lol" + std::to_string(i) + " '";
    for (int j = 0; j < 10; ++j) text += "&lol" + std::to_string(i - 1) + ";";
    text += "'>\n";
  }
  text += "]>\n<domain><name>&lol9;</name></domain>\n";
  const std::string message = ParseError(text);
  EXPECT_TRUE(Contains(message, "vm1.xml"));
  EXPECT_TRUE(Contains(message, "DOCTYPE"));
}

TEST(DomainXmlParse, RefusesExternalDtd) {
  const std::string text =
      "<!DOCTYPE domain SYSTEM \"http://attacker.invalid/domain.dtd\">\n"
      "<domain type='kvm'><name>vm1</name></domain>\n";
  const std::string message = ParseError(text);
  EXPECT_TRUE(Contains(message, "vm1.xml"));
  EXPECT_TRUE(Contains(message, "DOCTYPE"));
}

TEST(DomainXmlParse, RefusesParameterEntityInInternalSubset) {
  const std::string text =
      "<!DOCTYPE domain [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>\n"
      "<domain><name>vm1</name></domain>\n";
  EXPECT_TRUE(Contains(ParseError(text), "DOCTYPE"));
}

TEST(DomainXmlParse, ReportsMalformedXmlWithLine) {
  const std::string text =
      "<domain type='kvm'>\n  <name>vm1</name>\n  <memory>1</memry>\n</domain>";
  const std::string message = ParseError(text);
  EXPECT_TRUE(Contains(message, "vm1.xml: malformed XML at line 3: "));
  EXPECT_TRUE(Contains(message, "memory"));
}

TEST(DomainXmlParse, RefusesUndefinedEntityReference) {
  const std::string message = ParseError("<domain><name>vm1&shadow;</name></domain>");
  EXPECT_TRUE(Contains(message, "malformed XML at line 1"));
  EXPECT_TRUE(Contains(message, "shadow"));
}

TEST(DomainXmlParse, RefusesUndeclaredNamespacePrefix) {
  const std::string message =
      ParseError("<domain><name>vm1</name><metadata><nvdimm:nvdimms/></metadata></domain>");
  EXPECT_TRUE(Contains(message, "malformed XML at line 1"));
  EXPECT_TRUE(Contains(message, "nvdimm"));
}

TEST(DomainXmlParse, RefusesEmptyInput) {
  EXPECT_TRUE(Contains(ParseError("", "vm1.xml"), "vm1.xml: malformed XML"));
}

TEST(DomainXmlParse, RefusesOtherRootElement) {
  const std::string message = ParseError("<network><name>vm1</name></network>");
  EXPECT_TRUE(Contains(message, "vm1.xml"));
  EXPECT_TRUE(Contains(message, "<network>"));
}

// ---------------------------------------------------------------- Read

TEST(DomainXmlRead, ReadsEveryFieldOfRealisticDomain) {
  DomainXml xml = ParseOk(ReadFixture("domain-vm1.xml"));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->name, "vm1");
  EXPECT_EQ(domain->uuid, "5b4f6a2e-3c1d-4e8f-9a7b-0c2d4e6f8a1b");
  EXPECT_EQ(domain->arch, Arch::kX86_64);
  EXPECT_EQ(domain->machine, "pc-q35-7.2");
  EXPECT_EQ(domain->emulator, "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(domain->vcpus, 2u);
  EXPECT_EQ(domain->memory, 2560 * MiB);
  EXPECT_EQ(domain->current_memory, 2 * GiB);
  EXPECT_EQ(domain->max_memory, 16 * GiB);
  EXPECT_EQ(domain->max_memory_slots, 16u);
  ASSERT_EQ(domain->numa_cells.size(), 2u);
  EXPECT_EQ(domain->numa_cells[0], (NumaCell{0, 1 * GiB}));
  EXPECT_EQ(domain->numa_cells[1], (NumaCell{1, 1 * GiB}));
  EXPECT_EQ(domain->memnode_nodesets, (std::map<int, std::string>{{0, "0"}, {1, "1"}}));
  EXPECT_TRUE(domain->acpi);
  ASSERT_EQ(domain->memory_devices.size(), 2u);
  const MemoryDevice& nvdimm = domain->memory_devices[0];
  EXPECT_EQ(nvdimm.model, "nvdimm");
  EXPECT_EQ(nvdimm.access, "shared");
  EXPECT_EQ(nvdimm.source_path, "/dev/dax0.0");
  EXPECT_EQ(nvdimm.align_size, 2 * MiB);
  EXPECT_TRUE(nvdimm.pmem);
  EXPECT_EQ(nvdimm.target_size, 512 * MiB);
  EXPECT_EQ(nvdimm.node, 0);
  EXPECT_EQ(nvdimm.label_size, 128 * KiB);
  const MemoryDevice& dimm = domain->memory_devices[1];
  EXPECT_EQ(dimm.model, "dimm");
  EXPECT_EQ(dimm.access, "");
  EXPECT_EQ(dimm.target_size, 256 * MiB);
  EXPECT_EQ(dimm.node, 1);
  EXPECT_FALSE(dimm.label_size.has_value());
  EXPECT_FALSE(dimm.align_size.has_value());

  ASSERT_TRUE(domain->annotation.has_value());
  ASSERT_EQ(domain->annotation->entries.size(), 3u);
  EXPECT_EQ(domain->annotation->entries[0],
            (NvdimmRequest{SelectorKind::kUuid, "6e9c1f0a-2b3c-4d5e-8f70-1a2b3c4d5e6f",
                           std::nullopt, std::nullopt}));
  EXPECT_EQ(domain->annotation->entries[1],
            (NvdimmRequest{SelectorKind::kNamespace, "namespace1.0", 1, std::nullopt}));
  EXPECT_EQ(domain->annotation->entries[2],
            (NvdimmRequest{SelectorKind::kPath, "/dev/dax1.0", std::nullopt, 256 * KiB}));
}

TEST(DomainXmlRead, DefaultsWhenElementsAreAbsent) {
  DomainXml xml = ParseOk("<domain type='qemu'><name>tiny</name><memory>524288</memory></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->name, "tiny");
  EXPECT_EQ(domain->arch, Arch::kX86_64);
  EXPECT_EQ(domain->memory, 512 * MiB);  // default unit KiB
  EXPECT_FALSE(domain->current_memory.has_value());
  EXPECT_FALSE(domain->max_memory.has_value());
  EXPECT_EQ(domain->max_memory_slots, 0u);
  EXPECT_EQ(domain->vcpus, 1u);
  EXPECT_FALSE(domain->acpi);
  EXPECT_TRUE(domain->numa_cells.empty());
  EXPECT_TRUE(domain->memory_devices.empty());
  EXPECT_FALSE(domain->annotation.has_value());
}

TEST(DomainXmlRead, ReadsOtherArchitectures) {
  DomainXml xml = ParseOk(
      "<domain><name>p</name><os><type arch='ppc64le' machine='pseries'>hvm</type></os></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->arch, Arch::kPpc64);
  EXPECT_EQ(domain->machine, "pseries");
}

TEST(DomainXmlRead, ReadsUnknownArchitectureForPlanningToRefuse) {
  DomainXml xml = ParseOk(
      "<domain><name>vm1</name><os><type arch='riscv64' machine='virt'>hvm</type></os></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->unsupported_arch, "riscv64");
}

TEST(DomainXmlRead, ReadsI686) {
  DomainXml xml = ParseOk(
      "<domain><name>vm1</name><os><type arch='i686' machine='pc'>hvm</type></os></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->arch, Arch::kI686);
  EXPECT_EQ(domain->unsupported_arch, "");
}

// libvirt numbers cells without id by position (virDomainNumaDefParseXML).
TEST(DomainXmlRead, CellsWithoutIdAreNumberedInOrder) {
  DomainXml xml = ParseOk(
      "<domain><name>vm1</name><cpu><numa><cell cpus='0' memory='1' unit='GiB'/>"
      "<cell cpus='1' memory='512' unit='MiB'/></numa></cpu></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->numa_cells, (std::vector<NumaCell>{{0, 1 * GiB}, {1, 512 * MiB}}));
}

// Every unit of libvirt's virScaleInteger; decimal for KB/MB/…, binary for
// k/KiB/…; libvirt then rounds up to whole KiB (virDomainParseMemory).
TEST(DomainXmlRead, SizesInEveryLibvirtUnit) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases{
      {"<memory unit='b'>1073741824</memory>", 1 * GiB},
      {"<memory unit='bytes'>1073741824</memory>", 1 * GiB},
      {"<memory unit='byte'>1024</memory>", 1 * KiB},
      {"<memory unit='b'>1000</memory>", 1 * KiB},  // rounded up
      {"<memory unit='b'>1025</memory>", 2 * KiB},
      {"<memory unit='KB'>1000</memory>", 1000000 / KiB * KiB + KiB},
      {"<memory unit='k'>1024</memory>", 1 * MiB},
      {"<memory unit='KiB'>1024</memory>", 1 * MiB},
      {"<memory>1024</memory>", 1 * MiB},
      {"<memory unit='MB'>1</memory>", 1000000 / KiB * KiB + KiB},
      {"<memory unit='M'>1</memory>", 1 * MiB},
      {"<memory unit='MiB'>1</memory>", 1 * MiB},
      {"<memory unit='GB'>2</memory>", 2000000000},
      {"<memory unit='G'>1</memory>", 1 * GiB},
      {"<memory unit='GiB'>1</memory>", 1 * GiB},
      {"<memory unit='TB'>1</memory>", 1000000000000},
      {"<memory unit='T'>1</memory>", 1024 * GiB},
      {"<memory unit='TiB'>1</memory>", 1024 * GiB},
      {"<memory unit='PB'>1</memory>", 1000000000000000},
      {"<memory unit='PiB'>1</memory>", 1024ULL * 1024 * GiB},
      {"<memory unit='EiB'>1</memory>", 1024ULL * 1024 * 1024 * GiB},
  };
  for (const auto& [element, bytes] : cases) {
    DomainXml xml = ParseOk("<domain><name>vm1</name>" + element + "</domain>");
    auto domain = xml.Read();
    ASSERT_TRUE(domain.has_value()) << element << ": " << domain.error().message;
    EXPECT_EQ(domain->memory, bytes) << element;
  }
}

TEST(DomainXmlRead, OtherMemoryModelsAreReadNotRefused) {
  DomainXml xml = ParseOk(
      "<domain><name>vm1</name><devices>"
      "<memory model='virtio-mem'><source><nodemask>0</nodemask><pagesize unit='KiB'>2048"
      "</pagesize></source><target><size unit='GiB'>2</size><node>0</node><block "
      "unit='KiB'>2048</block><requested unit='GiB'>1</requested></target></memory>"
      "<memory model='sgx-epc'><target><size unit='MiB'>16</size></target></memory>"
      "<memory model='virtio-pmem' access='shared'><source><path>/tmp/p</path></source>"
      "<target><size unit='MiB'>512</size></target></memory>"
      "</devices></domain>");
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  ASSERT_EQ(domain->memory_devices.size(), 3u);
  EXPECT_EQ(domain->memory_devices[0].model, "virtio-mem");
  EXPECT_EQ(domain->memory_devices[0].target_size, 2 * GiB);
  EXPECT_EQ(domain->memory_devices[2].source_path, "/tmp/p");
}

TEST(DomainXmlApply, NeverWritesZeroSlots) {
  DomainXml xml = ParseOk("<domain><name>vm1</name><memory unit='GiB'>1</memory></domain>");
  Plan plan;
  plan.prerequisites.max_memory = 4 * GiB;
  EXPECT_EQ(xml.Apply(plan),
            (std::vector<std::string>{"maxMemory: slots 0 -> 1, size none -> 4 GiB"}));
  EXPECT_TRUE(Contains(xml.Serialize(), "<maxMemory slots=\"1\" unit=\"KiB\">4194304"));
}

TEST(DomainXmlRead, RefusesMissingName) {
  const std::string message = ReadError("<domain><memory>1</memory></domain>");
  EXPECT_TRUE(Contains(message, "test.xml"));
  EXPECT_TRUE(Contains(message, "<name>"));
}

TEST(DomainXmlRead, RefusesNonNumericMemory) {
  const std::string message =
      ReadError("<domain><name>vm1</name><memory unit='KiB'>lots</memory></domain>");
  EXPECT_TRUE(Contains(message, "domain 'vm1': <memory unit=\"KiB\">"));
  EXPECT_TRUE(Contains(message, "lots"));
}

TEST(DomainXmlRead, RefusesUnknownMemoryUnit) {
  const std::string message =
      ReadError("<domain><name>vm1</name><currentMemory unit='XB'>1</currentMemory></domain>");
  EXPECT_TRUE(Contains(message, "domain 'vm1': <currentMemory"));
  EXPECT_TRUE(Contains(message, "XB"));
}

TEST(DomainXmlRead, RefusesBadMaxMemorySlots) {
  const std::string message = ReadError(
      "<domain><name>vm1</name><maxMemory slots='many' unit='GiB'>8</maxMemory></domain>");
  EXPECT_TRUE(Contains(message, "domain 'vm1': <maxMemory"));
  EXPECT_TRUE(Contains(message, "many"));
}

TEST(DomainXmlRead, RefusesBadVcpu) {
  const std::string message = ReadError("<domain><name>vm1</name><vcpu>two</vcpu></domain>");
  EXPECT_TRUE(Contains(message, "domain 'vm1': <vcpu>"));
  EXPECT_TRUE(Contains(message, "two"));
}

TEST(DomainXmlRead, RefusesBadNumaCell) {
  const std::string message = ReadError(
      "<domain><name>vm1</name><cpu><numa><cell id='0' cpus='0' memory='1x' unit='KiB'/>"
      "</numa></cpu></domain>");
  EXPECT_TRUE(Contains(message, "domain 'vm1': <cell id=\"0\""));
  EXPECT_TRUE(Contains(message, "1x"));
}

TEST(DomainXmlRead, RefusesBadNvdimmTargetSize) {
  const std::string message = ReadError(Minimal(
      "", "    <memory model='nvdimm'><target><size unit='KiB'>-5</size></target></memory>\n"));
  EXPECT_TRUE(Contains(message, "domain 'vm1': <size unit=\"KiB\">"));
  EXPECT_TRUE(Contains(message, "-5"));
}

TEST(DomainXmlRead, RefusesBadNvdimmTargetNode) {
  const std::string message = ReadError(
      Minimal("",
              "    <memory model='nvdimm'><target><size>1024</size><node>zero</node></target>"
              "</memory>\n"));
  EXPECT_TRUE(Contains(message, "domain 'vm1': <node>"));
  EXPECT_TRUE(Contains(message, "zero"));
}

// ---------------------------------------------------------------- Serialize

TEST(DomainXmlSerialize, IsStableAndKeepsForeignContent) {
  const std::string original = ReadFixture("domain-vm1.xml");
  const std::string once = ParseOk(original).Serialize();
  EXPECT_EQ(ParseOk(once).Serialize(), once);
  EXPECT_EQ(once.rfind("<?xml", 0), std::string::npos);  // no declaration, like virsh dumpxml
  EXPECT_TRUE(Contains(once, "<qemu:arg value=\"-no-user-config\"/>"));
  EXPECT_TRUE(Contains(once, "<libosinfo:os id=\"http://debian.org/debian/12\"/>"));
  // Only the quoting changes (and libxml2 writes namespace declarations
  // before attributes): the same text with ' turned into ".
  std::string requoted = original;
  std::replace(requoted.begin(), requoted.end(), '\'', '"');
  const std::string first_line =
      "<domain type=\"kvm\" xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\">";
  ASSERT_EQ(requoted.rfind(first_line, 0), 0u);
  requoted.replace(
      0, first_line.size(),
      "<domain xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\" type=\"kvm\">");
  EXPECT_EQ(once, requoted);
}

// ---------------------------------------------------------------- Apply

TEST(DomainXmlApply, AddsDeviceAfterLastMemoryDeviceWithLibvirtLayout) {
  DomainXml xml = ParseOk(
      Minimal("",
              "    <memory model='dimm'>\n      <target>\n        <size unit='KiB'>131072</size>\n"
              "        <node>0</node>\n      </target>\n    </memory>\n"));
  const std::vector<std::string> changes = xml.Apply(DaxPlan());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0],
            "added nvdimm /dev/dax0.0: target 386 MiB, label 128 KiB, alignsize 2 MiB, node 0, "
            "pmem");
  EXPECT_TRUE(Contains(xml.Serialize(),
                       "    </memory>\n"
                       "    <memory model=\"nvdimm\" access=\"shared\">\n"
                       "      <source>\n"
                       "        <path>/dev/dax0.0</path>\n"
                       "        <alignsize unit=\"KiB\">2048</alignsize>\n"
                       "        <pmem/>\n"
                       "      </source>\n"
                       "      <target>\n"
                       "        <size unit=\"KiB\">395264</size>\n"
                       "        <node>0</node>\n"
                       "        <label>\n"
                       "          <size unit=\"KiB\">128</size>\n"
                       "        </label>\n"
                       "      </target>\n"
                       "    </memory>\n"
                       "    <console type=\"pty\"/>\n"));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  ASSERT_EQ(domain->memory_devices.size(), 2u);
  EXPECT_EQ(domain->memory_devices[1], DaxPlan().devices[0].Device());
}

TEST(DomainXmlApply, AddsDeviceAtEndOfDevicesWhenNoMemoryDevice) {
  DomainXml xml = ParseOk(Minimal());
  ASSERT_EQ(xml.Apply(DaxPlan()).size(), 1u);
  const std::string text = xml.Serialize();
  EXPECT_TRUE(Contains(text,
                       "    <console type=\"pty\"/>\n"
                       "    <memory model=\"nvdimm\" access=\"shared\">\n"
                       "      <source>\n"));
  EXPECT_TRUE(Contains(text, "      </target>\n    </memory>\n  </devices>\n</domain>\n"));
}

// tests/realhost: a device whose namespace got a new node is updated in
// place (path included), never duplicated.
// A <memory model='nvdimm'> device on node 0 with a 128 KiB label.
std::string NvdimmDeviceXml(const std::string& path, std::uint64_t target_kib) {
  return "    <memory model='nvdimm' access='shared'>\n"
         "      <source><path>" +
         path + "</path></source>\n      <target><size unit='KiB'>" + std::to_string(target_kib) +
         "</size><node>0</node><label><size unit='KiB'>128</size></label></target>\n"
         "    </memory>\n";
}

TEST(DomainXmlApply, ARenumberedDeviceIsUpdatedInPlace) {
  DomainXml xml = ParseOk(Minimal("", NvdimmDeviceXml("/dev/pmem0.4", 264192)));
  Plan plan;
  plan.domain = "vm1";
  plan.devices.push_back(Planned("/dev/pmem0.5", 130 * MiB, 128 * KiB, 2 * MiB, 0, false));
  plan.devices[0].previous_path = "/dev/pmem0.4";
  const std::vector<std::string> changes = xml.Apply(plan);
  const std::string text = xml.Serialize();
  EXPECT_TRUE(Contains(text, "<path>/dev/pmem0.5</path>"));
  EXPECT_EQ(text.find("/dev/pmem0.4"), std::string::npos) << text;
  auto domain = xml.Read();
  ASSERT_TRUE(domain) << domain.error().message;
  ASSERT_EQ(domain->memory_devices.size(), 1u);
  EXPECT_EQ(domain->memory_devices[0].target_size, 130 * MiB);
  ASSERT_FALSE(changes.empty());
  EXPECT_TRUE(Contains(changes[0], "path '/dev/pmem0.4' -> /dev/pmem0.5"));
}

// Two namespaces traded nodes: each device follows its own namespace, and
// the first update does not make its device look like the second one's.
TEST(DomainXmlApply, DevicesOfNamespacesThatTradedNodesAreUpdatedInPlace) {
  DomainXml xml = ParseOk(Minimal(
      "", NvdimmDeviceXml("/dev/pmem0.4", 264192) + NvdimmDeviceXml("/dev/pmem0.5", 133120)));
  Plan plan;
  plan.domain = "vm1";
  plan.devices.push_back(Planned("/dev/pmem0.5", 258 * MiB, 128 * KiB, 2 * MiB, 0, false));
  plan.devices[0].previous_path = "/dev/pmem0.4";
  plan.devices.push_back(Planned("/dev/pmem0.4", 130 * MiB, 128 * KiB, 2 * MiB, 0, false));
  plan.devices[1].previous_path = "/dev/pmem0.5";
  xml.Apply(plan);
  auto domain = xml.Read();
  ASSERT_TRUE(domain) << domain.error().message;
  ASSERT_EQ(domain->memory_devices.size(), 2u);
  EXPECT_EQ(domain->memory_devices[0].source_path, "/dev/pmem0.5");
  EXPECT_EQ(domain->memory_devices[0].target_size, 258 * MiB);
  EXPECT_EQ(domain->memory_devices[1].source_path, "/dev/pmem0.4");
  EXPECT_EQ(domain->memory_devices[1].target_size, 130 * MiB);
}

TEST(DomainXmlApply, SecondApplyChangesNothing) {
  DomainXml xml = ParseOk(Minimal());
  Plan plan = DaxPlan();
  plan.devices.push_back(Planned("/dev/pmem1", 1 * GiB, 256 * KiB, 2 * MiB, 1, false));
  plan.prerequisites.memory = 1 * GiB + 386 * MiB + 1 * GiB;
  plan.prerequisites.current_memory = plan.prerequisites.memory;
  plan.prerequisites.max_memory = 8 * GiB;
  plan.prerequisites.max_memory_slots = 2;
  plan.prerequisites.add_numa_cell = NumaCell{0, 1 * GiB};
  plan.prerequisites.add_numa_cell_cpus = "0-1";
  plan.prerequisites.add_acpi = true;
  const std::vector<std::string> first = xml.Apply(plan);
  EXPECT_EQ(first.size(), 7u);
  const std::string after_first = xml.Serialize();
  EXPECT_TRUE(xml.Apply(plan).empty());
  EXPECT_EQ(xml.Serialize(), after_first);
  // And after a round trip through text, as the hook sees it next time.
  DomainXml reparsed = ParseOk(after_first);
  EXPECT_TRUE(reparsed.Apply(plan).empty());
  EXPECT_EQ(reparsed.Serialize(), after_first);
}

TEST(DomainXmlApply, FixesWrongTargetSizeOnly) {
  DomainXml xml = ParseOk(ReadFixture("domain-vm1.xml"));
  const std::string before = xml.Serialize();
  const std::vector<std::string> changes = xml.Apply(DaxPlan());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "nvdimm /dev/dax0.0: target size 512 MiB -> 386 MiB");
  std::string expected = before;
  const std::string old_size = "<size unit=\"KiB\">524288</size>";
  expected.replace(expected.find(old_size), old_size.size(), "<size unit=\"KiB\">395264</size>");
  EXPECT_EQ(xml.Serialize(), expected);
}

TEST(DomainXmlApply, ComparesValuesNotSpelling) {
  DomainXml xml = ParseOk(
      Minimal("",
              "    <memory model='nvdimm' access='shared'>\n      <source>\n"
              "        <path>/dev/dax0.0</path>\n        <alignsize unit='MiB'>2</alignsize>\n"
              "        <pmem/>\n      </source>\n      <target>\n"
              "        <size unit='bytes'>404750336</size>\n        <node>0</node>\n"
              "        <label>\n          <size unit='k'>128</size>\n        </label>\n"
              "      </target>\n    </memory>\n"));
  const std::string before = xml.Serialize();
  EXPECT_TRUE(xml.Apply(DaxPlan()).empty());
  EXPECT_EQ(xml.Serialize(), before);
}

TEST(DomainXmlApply, UpdatesEveryDifferingField) {
  DomainXml xml =
      ParseOk(Minimal("",
                      "    <memory model='nvdimm' access='private'>\n      <source>\n"
                      "        <path>/dev/dax0.0</path>\n      </source>\n      <target>\n"
                      "        <size unit='GiB'>1</size>\n        <node>1</node>\n"
                      "        <label>\n          <size unit='KiB'>256</size>\n        </label>\n"
                      "      </target>\n    </memory>\n"));
  const std::vector<std::string> changes = xml.Apply(DaxPlan());
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "nvdimm /dev/dax0.0: access 'private' -> 'shared'",
                         "nvdimm /dev/dax0.0: alignsize none -> 2 MiB",
                         "nvdimm /dev/dax0.0: added <pmem/>",
                         "nvdimm /dev/dax0.0: target size 1 GiB -> 386 MiB",
                         "nvdimm /dev/dax0.0: node 1 -> 0",
                         "nvdimm /dev/dax0.0: label size 256 KiB -> 128 KiB",
                     }));
  EXPECT_TRUE(Contains(xml.Serialize(),
                       "      <source>\n"
                       "        <path>/dev/dax0.0</path>\n"
                       "        <alignsize unit=\"KiB\">2048</alignsize>\n"
                       "        <pmem/>\n"
                       "      </source>\n"));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->memory_devices.at(0), DaxPlan().devices[0].Device());
}

TEST(DomainXmlApply, RemovesPmemForPageCacheBacking) {
  DomainXml xml = ParseOk(ReadFixture("domain-vm1.xml"));
  Plan plan;
  plan.devices.push_back(Planned("/dev/dax0.0", 512 * MiB, 128 * KiB, 2 * MiB, 0, false));
  EXPECT_EQ(xml.Apply(plan), (std::vector<std::string>{"nvdimm /dev/dax0.0: removed <pmem/>"}));
  EXPECT_TRUE(Contains(xml.Serialize(),
                       "<alignsize unit=\"KiB\">2048</alignsize>\n"
                       "      </source>"));
}

TEST(DomainXmlApply, LeavesUnrelatedDevicesAndMetadataAlone) {
  const std::string fixture = ReadFixture("domain-vm1.xml");
  DomainXml xml = ParseOk(fixture);
  auto before = xml.Read();
  ASSERT_TRUE(before.has_value());
  Plan plan;
  plan.devices.push_back(Planned("/dev/dax1.0", 1 * GiB, 256 * KiB, 2 * MiB, 1, true));
  ASSERT_EQ(xml.Apply(plan).size(), 1u);
  auto after = xml.Read();
  ASSERT_TRUE(after.has_value()) << after.error().message;
  ASSERT_EQ(after->memory_devices.size(), 3u);
  EXPECT_EQ(after->memory_devices[0], before->memory_devices[0]);
  EXPECT_EQ(after->memory_devices[1], before->memory_devices[1]);
  EXPECT_EQ(after->memory_devices[2], plan.devices[0].Device());
  EXPECT_EQ(after->annotation, before->annotation);
  // Everything up to the new device is unchanged text.
  const std::string text = xml.Serialize();
  const std::string old = ParseOk(fixture).Serialize();
  const std::size_t end_of_dimm = old.find("    </memory>\n", old.find("model=\"dimm\""));
  EXPECT_EQ(text.substr(0, end_of_dimm), old.substr(0, end_of_dimm));
  EXPECT_TRUE(Contains(text, "<libosinfo:os id=\"http://debian.org/debian/12\"/>"));
  EXPECT_TRUE(Contains(text, "  <qemu:commandline>\n    <qemu:arg value=\"-no-user-config\"/>"));
}

TEST(DomainXmlApply, CreatesPrerequisites) {
  DomainXml xml = ParseOk(Minimal());
  Plan plan = DaxPlan();
  plan.prerequisites.memory = 1 * GiB + 386 * MiB;
  plan.prerequisites.max_memory = 4 * GiB;
  plan.prerequisites.max_memory_slots = 1;
  plan.prerequisites.add_numa_cell = NumaCell{0, 1 * GiB};
  plan.prerequisites.add_numa_cell_cpus = "0-1";
  plan.prerequisites.add_acpi = true;
  const std::vector<std::string> changes = xml.Apply(plan);
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "added nvdimm /dev/dax0.0: target 386 MiB, label 128 KiB, alignsize 2 "
                         "MiB, node 0, pmem",
                         "maxMemory: slots 0 -> 1, size none -> 4 GiB",
                         "memory: 1 GiB -> 1410 MiB",
                         "added NUMA cell 0: cpus 0-1, memory 1 GiB",
                         "added <features><acpi/>",
                     }));
  const std::string text = xml.Serialize();
  EXPECT_TRUE(Contains(text,
                       "  <uuid>5b4f6a2e-3c1d-4e8f-9a7b-0c2d4e6f8a1b</uuid>\n"
                       "  <maxMemory slots=\"1\" unit=\"KiB\">4194304</maxMemory>\n"
                       "  <memory unit=\"KiB\">1443840</memory>\n"));
  EXPECT_TRUE(Contains(text,
                       "  </os>\n"
                       "  <features>\n"
                       "    <acpi/>\n"
                       "  </features>\n"
                       "  <cpu>\n"
                       "    <numa>\n"
                       "      <cell id=\"0\" cpus=\"0-1\" memory=\"1048576\" unit=\"KiB\"/>\n"
                       "    </numa>\n"
                       "  </cpu>\n"
                       "  <clock offset=\"utc\"/>\n"));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value()) << domain.error().message;
  EXPECT_EQ(domain->max_memory, 4 * GiB);
  EXPECT_EQ(domain->max_memory_slots, 1u);
  EXPECT_EQ(domain->memory, 1 * GiB + 386 * MiB);
  EXPECT_EQ(domain->current_memory, 1 * GiB);  // not asked to follow
  EXPECT_EQ(domain->numa_cells, (std::vector<NumaCell>{{0, 1 * GiB}}));
  EXPECT_TRUE(domain->acpi);
}

TEST(DomainXmlApply, NeverLowersMaxMemory) {
  DomainXml xml = ParseOk(ReadFixture("domain-vm1.xml"));  // 16 slots, 16 GiB
  Plan plan;
  plan.prerequisites.max_memory = 4 * GiB;
  plan.prerequisites.max_memory_slots = 2;
  EXPECT_TRUE(xml.Apply(plan).empty());
  plan.prerequisites.max_memory = 32 * GiB;
  EXPECT_EQ(xml.Apply(plan), (std::vector<std::string>{"maxMemory: size 16 GiB -> 32 GiB"}));
  plan.prerequisites.max_memory_slots = 20;
  EXPECT_EQ(xml.Apply(plan), (std::vector<std::string>{"maxMemory: slots 16 -> 20"}));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value());
  EXPECT_EQ(domain->max_memory, 32 * GiB);
  EXPECT_EQ(domain->max_memory_slots, 20u);
}

TEST(DomainXmlApply, AddsAcpiToExistingFeaturesFirst) {
  DomainXml xml = ParseOk(Minimal("  <features>\n    <pae/>\n  </features>\n"));
  Plan plan;
  plan.prerequisites.add_acpi = true;
  EXPECT_EQ(xml.Apply(plan), (std::vector<std::string>{"added <features><acpi/>"}));
  EXPECT_TRUE(Contains(xml.Serialize(), "  <features>\n    <acpi/>\n    <pae/>\n  </features>\n"));
  EXPECT_TRUE(xml.Apply(plan).empty());
}

TEST(DomainXmlApply, AddsNumaToExistingCpu) {
  DomainXml xml = ParseOk(
      Minimal("  <cpu mode='host-model' check='partial'>\n    <topology sockets='1' dies='1' "
              "cores='2' threads='1'/>\n  </cpu>\n"));
  Plan plan;
  plan.prerequisites.add_numa_cell = NumaCell{0, 1 * GiB};
  plan.prerequisites.add_numa_cell_cpus = "0-1";
  EXPECT_EQ(xml.Apply(plan).size(), 1u);
  EXPECT_TRUE(Contains(xml.Serialize(),
                       "threads=\"1\"/>\n    <numa>\n      <cell id=\"0\" "
                       "cpus=\"0-1\" memory=\"1048576\" unit=\"KiB\"/>\n"
                       "    </numa>\n  </cpu>\n"));
}

TEST(DomainXmlApply, WorksOnUnindentedDocument) {
  DomainXml xml = ParseOk(
      "<domain><name>vm1</name><memory unit='KiB'>1048576</memory><devices>"
      "<emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>");
  ASSERT_EQ(xml.Apply(DaxPlan()).size(), 1u);
  EXPECT_TRUE(Contains(xml.Serialize(),
                       "</emulator><memory model=\"nvdimm\" access=\"shared\"><source><path>"
                       "/dev/dax0.0</path>"));
  auto domain = xml.Read();
  ASSERT_TRUE(domain.has_value());
  EXPECT_EQ(domain->memory_devices.at(0), DaxPlan().devices[0].Device());
  const std::string once = xml.Serialize();
  EXPECT_TRUE(xml.Apply(DaxPlan()).empty());
  EXPECT_EQ(xml.Serialize(), once);
}

}  // namespace
}  // namespace nvh
