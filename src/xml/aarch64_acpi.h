// What libvirt 9.0 needs before an aarch64 virt guest can have NVDIMMs:
// NVDIMMs are plugged through ACPI (hw/arm/virt.c: acpi-ged), libvirt allows
// <acpi/> on aarch64 only with UEFI (qemuValidateDomainDefFeatures: "ACPI
// requires UEFI on this architecture"), and QEMU creates acpi-ged only for a
// 64-bit CPU, while libvirt's default CPU for virt with a loader is
// cortex-a15 (32-bit).
#pragma once

#include <libxml/tree.h>

#include <string>
#include <vector>

namespace nvh::xml {

// Adds, only where the domain says nothing itself, one change line each:
//  * <os firmware='efi'> with <firmware><feature enabled='no'
//    name='secure-boot'/></firmware>: libvirt picks the distribution's
//    plain UEFI build from its firmware descriptors (Debian 12:
//    qemu-efi-aarch64's AAVMF), not a Secure Boot one with enrolled keys that
//    would refuse unsigned kernels; skipped when <os> has a firmware
//    attribute or a <loader>.
//  * <cpu mode='maximum'/> for <domain type='qemu'> (TCG), mode
//    'host-passthrough' for KVM; skipped when <cpu> has a mode or a <model>.
void ApplyAarch64Acpi(xmlNode* domain, std::vector<std::string>& changes);

}  // namespace nvh::xml
