// The parts of a libvirt domain definition the planner reads, as plain values.
// xml/domain_xml.h fills it from the XML; the planner never sees libxml2.
// All sizes are in bytes (libvirt writes KiB; the XML adapter converts).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/annotation.h"
#include "core/arch.h"

namespace nvh {

struct MemoryDevice {
  std::string model;                        // "nvdimm", "dimm", "virtio-mem", …
  std::string access;                       // "shared", "private" or ""
  std::string source_path;                  // <source><path>
  std::optional<std::uint64_t> align_size;  // <source><alignsize>
  bool pmem = false;                        // <source><pmem/>
  std::uint64_t target_size = 0;            // <target><size>
  std::optional<int> node;                  // <target><node>
  std::optional<std::uint64_t> label_size;  // <target><label><size>

  bool operator==(const MemoryDevice&) const = default;
};

struct NumaCell {
  int id = 0;
  std::uint64_t memory = 0;
  bool operator==(const NumaCell&) const = default;
};

struct Domain {
  std::string name;
  std::string uuid;
  Arch arch = Arch::kX86_64;                    // <os><type arch=…>, x86_64 when absent
  std::string unsupported_arch;                 // that name when the planner does not know it
  std::string machine;                          // <os><type machine=…>
  std::string emulator;                         // <devices><emulator>
  unsigned vcpus = 1;                           // <vcpu>
  std::uint64_t memory = 0;                     // <memory>: total, devices included
  std::optional<std::uint64_t> current_memory;  // <currentMemory>
  std::optional<std::uint64_t> max_memory;      // <maxMemory>
  unsigned max_memory_slots = 0;                // <maxMemory slots=…>
  std::vector<NumaCell> numa_cells;             // <cpu><numa><cell>
  std::map<int, std::string> memnode_nodesets;  // <numatune><memnode cellid nodeset>
  bool acpi = false;                            // <features><acpi/>
  std::vector<MemoryDevice> memory_devices;     // <devices><memory>, in order
  std::optional<Annotation> annotation;         // absent: no nvdimm-hook metadata
};

}  // namespace nvh
