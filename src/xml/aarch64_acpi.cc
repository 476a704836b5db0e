#include "xml/aarch64_acpi.h"

#include <array>
#include <string_view>

#include "xml/xml_tree.h"

namespace nvh::xml {
namespace {

// virDomainOSDefFormat order of the <os> children we may add before.
constexpr std::array<std::string_view, 3> kOsOrder{"type", "firmware", "loader"};
constexpr std::array<std::string_view, 1> kFirmwareOrder{"feature"};

}  // namespace

void ApplyAarch64Acpi(xmlNode* domain, std::vector<std::string>& changes) {
  xmlNode* os = Child(domain, "os");
  if (os != nullptr && !Attr(os, "firmware") && Child(os, "loader") == nullptr) {
    SetAttr(os, "firmware", "efi");
    xmlNode* firmware = Child(os, "firmware");
    if (firmware == nullptr) {
      firmware = NewElement(domain->doc, "firmware");
      InsertOrdered(os, firmware, kOsOrder);
    }
    xmlNode* feature = NewElement(domain->doc, "feature");
    SetAttr(feature, "enabled", "no");
    SetAttr(feature, "name", "secure-boot");
    InsertOrdered(firmware, feature, kFirmwareOrder);
    changes.push_back(
        "added <os firmware='efi'> without secure-boot: libvirt allows ACPI on aarch64 only with "
        "UEFI (Debian: qemu-efi-aarch64)");
  }
  xmlNode* cpu = Child(domain, "cpu");
  if (cpu == nullptr || (!Attr(cpu, "mode") && Child(cpu, "model") == nullptr)) {
    const bool kvm = Attr(domain, "type") == "kvm";
    if (cpu == nullptr) {
      cpu = NewElement(domain->doc, "cpu");
      InsertOrdered(domain, cpu, kDomainChildOrder);
    }
    SetAttr(cpu, "mode", kvm ? "host-passthrough" : "maximum");
    changes.push_back(std::string("added <cpu mode='") + (kvm ? "host-passthrough" : "maximum") +
                      "'>: QEMU's virt machine plugs NVDIMMs (acpi-ged) only for a 64-bit CPU, "
                      "libvirt's default is cortex-a15");
  }
}

}  // namespace nvh::xml
