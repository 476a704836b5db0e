#include <iomanip>
#include <iostream>

#include "core/arch.h"
#include "core/plan_json.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "util/bytes.h"

namespace po = boost::program_options;

namespace nvh::cli {
namespace {

void PrintTable(const HostNamespaces& namespaces, Arch arch) {
  std::cout << std::left << std::setw(14) << "NAMESPACE" << std::setw(8) << "MODE" << std::setw(12)
            << "SIZE" << std::setw(9) << "ALIGN" << std::setw(6) << "NODE" << std::setw(16)
            << "DEVICE" << std::setw(15) << ("GUEST/" + std::string(ArchName(arch)))
            << "PERSISTENCE\n";
  for (const HostNamespace& ns : namespaces) {
    const auto json = NamespaceToJson(ns, arch);
    const std::string guest = json["guest_size"].is_null()
                                  ? "too small"
                                  : FormatSize(json["guest_size"].get<std::uint64_t>());
    std::cout << std::setw(14) << ns.dev << std::setw(8) << ModeName(ns.mode) << std::setw(12)
              << FormatSize(ns.size) << std::setw(9) << (ns.align ? FormatSize(ns.align) : "-")
              << std::setw(6) << (ns.numa_node >= 0 ? std::to_string(ns.numa_node) : "-")
              << std::setw(16) << (ns.DevicePath().empty() ? "-" : ns.DevicePath()) << std::setw(15)
              << guest << (ns.IsDax() ? "DAX" : "page cache (needs host writeback)") << "\n";
    if (!ns.uuid.empty())
      std::cout << "  uuid " << ns.uuid << (ns.name.empty() ? "" : "  name " + ns.name) << "\n";
  }
}

}  // namespace

int RunList(const std::vector<std::string>& args) {
  InventoryOptions inventory;
  std::string arch_name = "x86_64";
  po::options_description options("nvdimmctl list [options]");
  options.add_options()("json", "print JSON (ndctl's field names, sizes in bytes)")(
      "arch", po::value(&arch_name)->default_value(arch_name),
      "guest architecture for the guest size column: x86_64, i686, aarch64, ppc64");
  inventory.AddTo(options);
  const auto vm = ParseCommand(args, options, nullptr, 0);
  const auto arch = ParseArch(arch_name);
  if (!arch) {
    std::cerr << "nvdimmctl list: unknown --arch '" << arch_name << "'\n";
    return kExitUsage;
  }
  auto namespaces = inventory.Open()->List();
  if (!namespaces) return Refuse(namespaces.error());
  if (vm.count("json")) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const HostNamespace& ns : *namespaces) out.push_back(NamespaceToJson(ns, *arch));
    std::cout << out.dump(2) << "\n";
  } else {
    PrintTable(*namespaces, *arch);
  }
  return kExitOk;
}

}  // namespace nvh::cli
