#include "xml/domain_xml.h"

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include "core/arch.h"
#include "util/bytes.h"
#include "xml/aarch64_acpi.h"
#include "xml/annotation_xml.h"
#include "xml/xml_safety.h"
#include "xml/xml_tree.h"

namespace nvh {
namespace {

using xml::Attr;
using xml::Child;
using xml::Children;
using xml::Descend;
using xml::Describe;
using xml::InsertOrdered;
using xml::Text;

constexpr std::uint64_t kKiB = 1024;

// Child orders as libvirt writes them (src/conf/domain_conf.c).
constexpr std::array<std::string_view, 4> kMemoryDeviceOrder{"source", "target", "alias",
                                                             "address"};
constexpr std::array<std::string_view, 5> kSourceOrder{"pagesize", "nodemask", "path", "alignsize",
                                                       "pmem"};
constexpr std::array<std::string_view, 8> kTargetOrder{"size",  "node",      "label",   "readonly",
                                                       "block", "requested", "current", "address"};
constexpr std::array<std::string_view, 1> kLabelOrder{"size"};
constexpr std::array<std::string_view, 7> kCpuOrder{"model",       "vendor",  "topology", "cache",
                                                    "maxphysaddr", "feature", "numa"};
constexpr std::array<std::string_view, 2> kNumaOrder{"cell", "interconnects"};
// virDomainFeature order: acpi is the first feature libvirt writes.
constexpr std::array<std::string_view, 4> kFeaturesOrder{"acpi", "apic", "pae", "hap"};

std::string Quoted(std::string_view value) {
  return "'" + std::string(value) + "'";
}

// Plain non-negative integer of at most `max`, or an error naming the element.
template <typename T>
Result<T> ReadInteger(const xmlNode* node, std::string_view what, std::string_view value) {
  auto number =
      xml::ReadNumber(node, what, value, static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
  if (!number) return std::unexpected(number.error());
  return static_cast<T>(*number);
}

// A size as libvirt stores it: virDomainParseMemory scales the value
// (virScaleInteger, KiB when no unit) and rounds UP to whole KiB
// ("we really do use kibibytes for our internal sizing").
Result<std::uint64_t> RoundUpToKiB(Result<std::uint64_t> bytes, const xmlNode* node) {
  if (!bytes) return bytes;
  if (*bytes > std::numeric_limits<std::uint64_t>::max() - (kKiB - 1)) {
    return Fail(ErrorKind::kInvalidInput, Describe(node) + ": size is too large");
  }
  return (*bytes + kKiB - 1) / kKiB * kKiB;
}

Result<std::uint64_t> ReadMemorySize(const xmlNode* node) {
  return RoundUpToKiB(xml::ReadSize(node, kKiB), node);
}

// "KiB" value text and unit for a size libvirt reads back exactly.
void WriteSize(xmlNode* node, std::uint64_t bytes) {
  if (bytes % kKiB == 0) {
    xml::SetAttr(node, "unit", "KiB");
    xml::SetText(node, std::to_string(bytes / kKiB));
  } else {
    xml::SetAttr(node, "unit", "bytes");
    xml::SetText(node, std::to_string(bytes));
  }
}

std::string DescribeOld(const xmlNode* node) {
  if (node == nullptr) return "none";
  auto size = ReadMemorySize(node);
  if (!size) return Quoted(Text(node));
  return FormatSize(*size);
}

xmlNode* EnsureChild(xmlNode* parent, std::string_view name,
                     std::span<const std::string_view> order) {
  if (xmlNode* child = Child(parent, name)) return child;
  xmlNode* child = xml::NewElement(parent->doc, name);
  InsertOrdered(parent, child, order);
  return child;
}

// Makes parent/<name> hold `bytes`. Returns "old -> new" when it changed.
std::optional<std::string> EnsureSize(xmlNode* parent, std::string_view name, std::uint64_t bytes,
                                      std::span<const std::string_view> order) {
  xmlNode* node = Child(parent, name);
  if (node != nullptr) {
    auto current = ReadMemorySize(node);
    if (current && *current == bytes) return std::nullopt;
  }
  const std::string old = DescribeOld(node);
  if (node == nullptr) node = EnsureChild(parent, name, order);
  WriteSize(node, bytes);
  return old + " -> " + FormatSize(bytes);
}

bool IsPlannedDevice(const xmlNode* memory, const std::string& path) {
  if (Attr(memory, "model") != "nvdimm") return false;
  const xmlNode* node = Descend(memory, {"source", "path"});
  return node != nullptr && Text(node) == path;
}

// Makes one <memory> device match `want`; one phrase per change.
std::vector<std::string> UpdateDevice(xmlNode* memory, const MemoryDevice& want) {
  std::vector<std::string> changes;
  if (!want.access.empty()) {
    const auto access = Attr(memory, "access");
    if (access != want.access) {
      changes.push_back("access " + (access ? Quoted(*access) : std::string("none")) + " -> " +
                        Quoted(want.access));
      xml::SetAttr(memory, "access", want.access);
    }
  }

  xmlNode* source = EnsureChild(memory, "source", kMemoryDeviceOrder);
  xmlNode* path = Child(source, "path");
  if (path == nullptr || Text(path) != want.source_path) {
    if (path != nullptr)
      changes.push_back("path " + Quoted(Text(path)) + " -> " + want.source_path);
    if (path == nullptr) path = EnsureChild(source, "path", kSourceOrder);
    xml::SetText(path, want.source_path);
  }
  if (want.align_size.value_or(0) != 0) {
    if (auto change = EnsureSize(source, "alignsize", *want.align_size, kSourceOrder)) {
      changes.push_back("alignsize " + *change);
    }
  } else if (xmlNode* align = Child(source, "alignsize")) {
    changes.push_back("removed alignsize " + DescribeOld(align));
    xml::Remove(align);
  }
  xmlNode* pmem = Child(source, "pmem");
  if (want.pmem && pmem == nullptr) {
    InsertOrdered(source, xml::NewElement(memory->doc, "pmem"), kSourceOrder);
    changes.push_back("added <pmem/>");
  } else if (!want.pmem && pmem != nullptr) {
    xml::Remove(pmem);
    changes.push_back("removed <pmem/>");
  }

  xmlNode* target = EnsureChild(memory, "target", kMemoryDeviceOrder);
  if (auto change = EnsureSize(target, "size", want.target_size, kTargetOrder)) {
    changes.push_back("target size " + *change);
  }
  if (want.node) {
    xmlNode* node = Child(target, "node");
    const std::string wanted = std::to_string(*want.node);
    if (node == nullptr || Text(node) != wanted) {
      changes.push_back("node " + (node != nullptr ? Text(node) : std::string("none")) + " -> " +
                        wanted);
      if (node == nullptr) node = EnsureChild(target, "node", kTargetOrder);
      xml::SetText(node, wanted);
    }
  }
  if (want.label_size.value_or(0) != 0) {
    xmlNode* label = EnsureChild(target, "label", kTargetOrder);
    if (auto change = EnsureSize(label, "size", *want.label_size, kLabelOrder)) {
      changes.push_back("label size " + *change);
    }
  } else if (xmlNode* label = Child(target, "label")) {
    changes.push_back("removed label");
    xml::Remove(label);
  }
  return changes;
}

std::string DescribeNewDevice(const MemoryDevice& device) {
  std::string out =
      "added nvdimm " + device.source_path + ": target " + FormatSize(device.target_size);
  if (device.label_size.value_or(0) != 0) out += ", label " + FormatSize(*device.label_size);
  if (device.align_size.value_or(0) != 0) out += ", alignsize " + FormatSize(*device.align_size);
  if (device.node) out += ", node " + std::to_string(*device.node);
  if (device.pmem) out += ", pmem";
  return out;
}

// The definition's <memory> element of each planned device, or nullptr for
// one to add. Found before any is changed: when two namespaces traded device
// nodes, the first update would otherwise make its device look like the
// second one's.
std::vector<xmlNode*> FindPlannedDevices(xmlNode* domain, const Plan& plan) {
  std::vector<xmlNode*> memories;
  if (xmlNode* devices = Child(domain, "devices")) memories = Children(devices, "memory");
  std::vector<xmlNode*> found;
  for (const PlannedDevice& planned : plan.devices) {
    const auto it = std::find_if(memories.begin(), memories.end(), [&](const xmlNode* memory) {
      return IsPlannedDevice(memory, planned.DefinitionPath());
    });
    found.push_back(it == memories.end() ? nullptr : *it);
  }
  return found;
}

void ApplyDevice(xmlNode* domain, const PlannedDevice& planned, xmlNode* existing,
                 std::vector<std::string>& out) {
  const MemoryDevice want = planned.Device();
  if (existing != nullptr) {
    for (const std::string& change : UpdateDevice(existing, want)) {
      out.push_back("nvdimm " + want.source_path + ": " + change);
    }
    return;
  }
  xmlNode* devices = Child(domain, "devices");
  if (devices == nullptr) {
    devices = xml::NewElement(domain->doc, "devices");
    InsertOrdered(domain, devices, xml::kDomainChildOrder);
  }
  const std::vector<xmlNode*> memories = Children(devices, "memory");
  xmlNode* memory = xml::NewElement(domain->doc, "memory");
  xml::SetAttr(memory, "model", "nvdimm");
  xml::SetAttr(memory, "access", want.access.empty() ? "shared" : want.access);
  if (memories.empty()) {
    xml::Append(devices, memory);
  } else {
    xml::InsertAfter(memories.back(), memory);
  }
  UpdateDevice(memory, want);
  out.push_back(DescribeNewDevice(want));
}

void ApplyMaxMemory(xmlNode* domain, const Prerequisites& wanted, std::vector<std::string>& out) {
  if (wanted.max_memory == 0 && wanted.max_memory_slots == 0) return;
  xmlNode* node = Child(domain, "maxMemory");
  std::optional<std::uint64_t> old_size;
  unsigned old_slots = 0;
  if (node != nullptr) {
    if (auto size = ReadMemorySize(node)) old_size = *size;
    if (auto slots = Attr(node, "slots")) {
      if (auto number = ReadInteger<unsigned>(node, "slots", *slots)) old_slots = *number;
    }
  }
  const std::uint64_t new_size = std::max(old_size.value_or(0), wanted.max_memory);
  // Never 0 slots, never one of size and slots without the other: libvirt
  // 9.0 rejects both ("both maximum memory size and memory slot count must
  // be specified").
  const unsigned new_slots = std::max({old_slots, wanted.max_memory_slots, 1U});
  if (node != nullptr && old_size == new_size && Attr(node, "slots") && old_slots == new_slots) {
    return;
  }
  std::string sentence = "maxMemory:";
  std::string separator = " ";
  if (node == nullptr || !Attr(node, "slots") || old_slots != new_slots) {
    sentence +=
        separator + "slots " + std::to_string(old_slots) + " -> " + std::to_string(new_slots);
    separator = ", ";
  }
  if (old_size != new_size) {
    sentence += separator + "size " + (old_size ? FormatSize(*old_size) : "none") + " -> " +
                FormatSize(new_size);
  }
  if (node == nullptr) {
    node = xml::NewElement(domain->doc, "maxMemory");
    InsertOrdered(domain, node, xml::kDomainChildOrder);
  }
  xml::SetAttr(node, "slots", std::to_string(new_slots));
  WriteSize(node, new_size);
  out.push_back(sentence);
}

void ApplyNumaCell(xmlNode* domain, const NumaCell& cell, const std::string& cpus,
                   std::vector<std::string>& out) {
  xmlNode* cpu = EnsureChild(domain, "cpu", xml::kDomainChildOrder);
  xmlNode* numa = EnsureChild(cpu, "numa", kCpuOrder);
  const std::string id = std::to_string(cell.id);
  xmlNode* existing = nullptr;
  for (xmlNode* candidate : Children(numa, "cell")) {
    if (Attr(candidate, "id") == id) existing = candidate;
  }
  const std::string memory = std::to_string(cell.memory / kKiB);
  if (existing == nullptr) {
    xmlNode* node = xml::NewElement(domain->doc, "cell");
    xml::SetAttr(node, "id", id);
    if (!cpus.empty()) xml::SetAttr(node, "cpus", cpus);
    xml::SetAttr(node, "memory", memory);
    xml::SetAttr(node, "unit", "KiB");
    InsertOrdered(numa, node, kNumaOrder);
    out.push_back("added NUMA cell " + id + (cpus.empty() ? "" : ": cpus " + cpus + ",") +
                  " memory " + FormatSize(cell.memory));
    return;
  }
  if (!cpus.empty() && Attr(existing, "cpus") != cpus) {
    out.push_back("NUMA cell " + id + ": cpus " + Quoted(Attr(existing, "cpus").value_or("")) +
                  " -> " + Quoted(cpus));
    xml::SetAttr(existing, "cpus", cpus);
  }
  auto current = RoundUpToKiB(
      ScaleSize(Attr(existing, "memory").value_or(""), Attr(existing, "unit").value_or(""), kKiB),
      existing);
  if (!current || *current != cell.memory) {
    out.push_back("NUMA cell " + id + ": memory " +
                  (current ? FormatSize(*current) : Quoted(Attr(existing, "memory").value_or(""))) +
                  " -> " + FormatSize(cell.memory));
    xml::SetAttr(existing, "memory", memory);
    xml::SetAttr(existing, "unit", "KiB");
  }
}

Result<MemoryDevice> ReadMemoryDevice(const xmlNode* memory) {
  MemoryDevice device;
  device.model = Attr(memory, "model").value_or("");
  device.access = Attr(memory, "access").value_or("");
  if (const xmlNode* source = Child(memory, "source")) {
    if (const xmlNode* path = Child(source, "path")) device.source_path = Text(path);
    if (const xmlNode* align = Child(source, "alignsize")) {
      auto size = ReadMemorySize(align);
      if (!size) return std::unexpected(size.error());
      device.align_size = *size;
    }
    device.pmem = Child(source, "pmem") != nullptr;
  }
  if (const xmlNode* target = Child(memory, "target")) {
    if (const xmlNode* size_node = Child(target, "size")) {
      auto size = ReadMemorySize(size_node);
      if (!size) return std::unexpected(size.error());
      device.target_size = *size;
    }
    if (const xmlNode* node = Child(target, "node")) {
      auto number = ReadInteger<int>(node, "node", Text(node));
      if (!number) return std::unexpected(number.error());
      device.node = *number;
    }
    if (const xmlNode* label = Descend(target, {"label", "size"})) {
      auto size = ReadMemorySize(label);
      if (!size) return std::unexpected(size.error());
      device.label_size = *size;
    }
  }
  return device;
}

Result<Domain> ReadDomain(const xmlNode* root) {
  Domain domain;
  if (const xmlNode* uuid = Child(root, "uuid")) domain.uuid = Text(uuid);
  if (const xmlNode* type = Descend(root, {"os", "type"})) {
    if (auto arch_name = Attr(type, "arch")) {
      // libvirt accepts many more (s390x, riscv64, armv7l …): read them, and
      // let planning refuse an NVDIMM on one (core/arch_support.h).
      if (auto arch = ParseArch(*arch_name)) {
        domain.arch = *arch;
      } else {
        domain.unsupported_arch = *arch_name;
      }
    }
    domain.machine = Attr(type, "machine").value_or("");
  }
  if (const xmlNode* emulator = Descend(root, {"devices", "emulator"})) {
    domain.emulator = Text(emulator);
  }
  if (const xmlNode* vcpu = Child(root, "vcpu")) {
    auto count = ReadInteger<unsigned>(vcpu, "vcpu count", Text(vcpu));
    if (!count) return std::unexpected(count.error());
    domain.vcpus = *count;
  }
  if (const xmlNode* memory = Child(root, "memory")) {
    auto size = ReadMemorySize(memory);
    if (!size) return std::unexpected(size.error());
    domain.memory = *size;
  }
  if (const xmlNode* current = Child(root, "currentMemory")) {
    auto size = ReadMemorySize(current);
    if (!size) return std::unexpected(size.error());
    domain.current_memory = *size;
  }
  if (const xmlNode* max = Child(root, "maxMemory")) {
    auto size = ReadMemorySize(max);
    if (!size) return std::unexpected(size.error());
    domain.max_memory = *size;
    if (auto slots_text = Attr(max, "slots")) {
      auto slots = ReadInteger<unsigned>(max, "slots", *slots_text);
      if (!slots) return std::unexpected(slots.error());
      domain.max_memory_slots = *slots;
    }
  }
  int cell_index = 0;
  for (const xmlNode* cell : Children(Descend(root, {"cpu", "numa"}), "cell")) {
    NumaCell numa_cell;
    // A cell without id is numbered by its position, as libvirt does
    // (virDomainNumaDefParseXML: cur_cell = i).
    numa_cell.id = cell_index++;
    if (auto id_text = Attr(cell, "id")) {
      auto id = ReadInteger<int>(cell, "id", *id_text);
      if (!id) return std::unexpected(id.error());
      numa_cell.id = *id;
    }
    const std::string memory = Attr(cell, "memory").value_or("");
    const std::string unit = Attr(cell, "unit").value_or("");
    auto size = RoundUpToKiB(ScaleSize(memory, unit, kKiB), cell);
    if (!size) {
      return Fail(ErrorKind::kInvalidInput, Describe(cell) + ": memory '" + memory +
                                                "' with unit '" + unit +
                                                "' is invalid: " + size.error().message);
    }
    numa_cell.memory = *size;
    domain.numa_cells.push_back(numa_cell);
  }
  for (const xmlNode* memnode : Children(Child(root, "numatune"), "memnode")) {
    auto cell_id = ReadInteger<int>(memnode, "cellid", Attr(memnode, "cellid").value_or(""));
    if (!cell_id) return std::unexpected(cell_id.error());
    domain.memnode_nodesets[*cell_id] = Attr(memnode, "nodeset").value_or("");
  }
  domain.acpi = Descend(root, {"features", "acpi"}) != nullptr;
  for (const xmlNode* memory : Children(Child(root, "devices"), "memory")) {
    auto device = ReadMemoryDevice(memory);
    if (!device) return std::unexpected(device.error());
    domain.memory_devices.push_back(std::move(*device));
  }
  auto annotation = xml::ReadAnnotation(root);
  if (!annotation) return std::unexpected(annotation.error());
  domain.annotation = std::move(*annotation);
  return domain;
}

}  // namespace

void DomainXml::DocDeleter::operator()(_xmlDoc* doc) const {
  xmlFreeDoc(doc);
}

DomainXml::DomainXml(_xmlDoc* doc, std::string origin) : doc_(doc), origin_(std::move(origin)) {}
DomainXml::DomainXml(DomainXml&&) noexcept = default;
DomainXml& DomainXml::operator=(DomainXml&&) noexcept = default;
DomainXml::~DomainXml() = default;

Result<DomainXml> DomainXml::Parse(std::string_view text, std::string_view origin) {
  auto doc = xml::SafeParse(text, origin, kMaxDomainXmlBytes);
  if (!doc) return std::unexpected(doc.error());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!xml::IsElement(root, "domain")) {
    return Fail(ErrorKind::kInvalidInput,
                std::string(origin) + ": root element is " + Describe(root) + ", not <domain>");
  }
  return DomainXml(doc->release(), std::string(origin));
}

Result<Domain> DomainXml::Read() const {
  const xmlNode* root = xmlDocGetRootElement(doc_.get());
  const xmlNode* name = Child(root, "name");
  if (name == nullptr || Text(name).empty()) {
    return Fail(ErrorKind::kInvalidInput, origin_ + ": <domain> has no <name>");
  }
  const std::string domain_name = Text(name);
  auto domain = ReadDomain(root);
  if (!domain)
    return std::unexpected(WithContext(domain.error(), "domain '" + domain_name + "': "));
  domain->name = domain_name;
  return domain;
}

void DomainXml::SetAnnotation(const Annotation& annotation) {
  xml::WriteAnnotation(xmlDocGetRootElement(doc_.get()), annotation);
}

std::vector<std::string> DomainXml::Apply(const Plan& plan) {
  xmlNode* root = xmlDocGetRootElement(doc_.get());
  std::vector<std::string> changes;
  const std::vector<xmlNode*> existing = FindPlannedDevices(root, plan);
  for (std::size_t i = 0; i < plan.devices.size(); ++i) {
    ApplyDevice(root, plan.devices[i], existing[i], changes);
  }

  const Prerequisites& wanted = plan.prerequisites;
  ApplyMaxMemory(root, wanted, changes);
  if (wanted.memory != 0) {
    if (auto change = EnsureSize(root, "memory", wanted.memory, xml::kDomainChildOrder)) {
      changes.push_back("memory: " + *change);
    }
  }
  if (wanted.current_memory) {
    if (auto change =
            EnsureSize(root, "currentMemory", *wanted.current_memory, xml::kDomainChildOrder)) {
      changes.push_back("currentMemory: " + *change);
    }
  }
  if (wanted.add_numa_cell) {
    ApplyNumaCell(root, *wanted.add_numa_cell, wanted.add_numa_cell_cpus, changes);
  }
  if (wanted.add_acpi) {
    xmlNode* features = Child(root, "features");
    if (features == nullptr || Child(features, "acpi") == nullptr) {
      features = EnsureChild(root, "features", xml::kDomainChildOrder);
      InsertOrdered(features, xml::NewElement(root->doc, "acpi"), kFeaturesOrder);
      changes.push_back("added <features><acpi/>");
    }
  }
  if (plan.arch == Arch::kAarch64 && !plan.devices.empty()) {
    xml::ApplyAarch64Acpi(root, changes);
  }
  return changes;
}

bool DomainXml::RemoveNvdimm(const std::string& path) {
  xmlNode* devices = Child(xmlDocGetRootElement(doc_.get()), "devices");
  if (devices == nullptr) return false;
  for (xmlNode* memory : Children(devices, "memory")) {
    if (IsPlannedDevice(memory, path)) {
      xml::Remove(memory);
      return true;
    }
  }
  return false;
}

std::string DomainXml::Serialize() const {
  xmlBuffer* buffer = xmlBufferCreate();
  if (buffer == nullptr) return {};
  xmlSaveCtxt* save = xmlSaveToBuffer(buffer, "UTF-8", XML_SAVE_NO_DECL);
  std::string out;
  if (save != nullptr) {
    xmlSaveDoc(save, doc_.get());
    xmlSaveClose(save);
    out.assign(xml::FromXml(xmlBufferContent(buffer)),
               static_cast<std::size_t>(xmlBufferLength(buffer)));
  }
  xmlBufferFree(buffer);
  return out;
}

}  // namespace nvh
