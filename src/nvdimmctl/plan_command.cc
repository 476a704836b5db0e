#include <iostream>

#include "core/peer_comparison.h"
#include "core/plan.h"
#include "core/plan_json.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "util/bytes.h"

namespace po = boost::program_options;

namespace nvh::cli {
namespace {

// domain file + inventory -> the parsed document and its plan.
struct Planned {
  DomainXml xml;
  Domain domain;
  Plan plan;
};

Result<Planned> PlanDomainFile(const std::string& path, const InventoryOptions& inventory) {
  auto xml = LoadDomainXml(path);
  if (!xml) return std::unexpected(xml.error());
  auto domain = xml->Read();
  if (!domain) return std::unexpected(domain.error());
  auto namespaces = inventory.Open()->List();
  if (!namespaces) return std::unexpected(namespaces.error());
  auto plan = MakePlan(*domain, *namespaces);
  if (!plan) return std::unexpected(plan.error());
  return Planned{std::move(*xml), std::move(*domain), std::move(*plan)};
}

void PrintPlan(const Plan& plan) {
  std::cout << "domain " << plan.domain << " (" << ArchName(plan.arch)
            << "): " << plan.devices.size() << " NVDIMM device(s)\n";
  if (!plan.devices.empty()) {
    std::cout << "  guest memory block " << FormatSize(plan.memory_block.bytes) << ": "
              << plan.memory_block.reason << "\n";
  }
  for (const std::string& warning : plan.warnings) std::cout << "  warning: " << warning << "\n";
  for (const PlannedDevice& d : plan.devices) {
    std::cout << "  " << d.path << "  " << d.host.dev << " " << ModeName(d.host.mode) << ", "
              << FormatSize(d.host.size) << (d.request ? "" : "  (no annotation: guarded only)")
              << "\n"
              << "    target " << FormatSize(d.layout.target_size) << "  label "
              << FormatSize(d.layout.label_size) << "  alignsize "
              << FormatSize(d.layout.align_size) << "  guest " << FormatSize(d.layout.guest_size)
              << "  node " << d.node << (d.layout.pmem ? "  pmem" : "  no pmem (page cache)")
              << "\n";
    if (!d.layout.pmem) {
      // README "Block-device modes": measured 3.2-4.6 s per GiB here.
      std::cout << "    note: a block device is mapped through the host page cache: guest stores "
                   "persist only on writeback, and libvirt preallocates (reads and dirties) all "
                << FormatSize(d.layout.target_size) << " at every start; devdax avoids both\n";
    }
  }
}

void PrintPeerComparison(const Domain& domain, const Plan& plan) {
  for (const PlannedDevice& d : plan.devices) {
    std::cout << "  " << d.path << " elsewhere:\n";
    for (const std::string& line : DescribePeers(domain, plan, d))
      std::cout << "    " << line << "\n";
  }
}

std::string Positional(const po::variables_map& vm) {
  if (!vm.count("domain")) throw po::error("a DOMAIN.xml argument is required");
  return vm["domain"].as<std::string>();
}

}  // namespace

int RunPlan(const std::vector<std::string>& args) {
  InventoryOptions inventory;
  po::options_description options("nvdimmctl plan DOMAIN.xml [options]");
  options.add_options()("json", "print the plan as JSON (sizes in bytes)")(
      "compare", "also show what oVirt and Nova would write for each device")(
      "domain", po::value<std::string>(), "domain XML file, '-' for stdin");
  inventory.AddTo(options);
  const auto vm = ParseCommand(args, options, "domain", 1);
  auto planned = PlanDomainFile(Positional(vm), inventory);
  if (!planned) return Refuse(planned.error());
  const bool compare = vm.count("compare") > 0;
  if (vm.count("json")) {
    auto json = PlanToJson(planned->plan);
    if (compare) AddPeersToPlanJson(json, planned->domain, planned->plan);
    std::cout << json.dump(2) << "\n";
  } else {
    PrintPlan(planned->plan);
    for (const std::string& line : KeptLayoutNotes(planned->plan))
      std::cout << "  " << line << "\n";
    for (const std::string& line : UnkeptLayouts(planned->plan)) {
      std::cout << "  cannot keep: " << line << "\n";
    }
    if (compare) PrintPeerComparison(planned->domain, planned->plan);
    for (const std::string& line : DiffAgainstPlan(planned->domain, planned->plan)) {
      std::cout << "  differs: " << line << "\n";
    }
  }
  return kExitOk;
}

int RunRewrite(const std::vector<std::string>& args) {
  InventoryOptions inventory;
  po::options_description options("nvdimmctl rewrite DOMAIN.xml [options]");
  options.add_options()("domain", po::value<std::string>(), "domain XML file, '-' for stdin");
  inventory.AddTo(options);
  const auto vm = ParseCommand(args, options, "domain", 1);
  auto planned = PlanDomainFile(Positional(vm), inventory);
  if (!planned) return Refuse(planned.error());
  // Data first: rewrite never moves an existing layout (nvdimmctl sync
  // --relayout does, after saying what the guest loses).
  if (const auto unkept = UnkeptLayouts(planned->plan); !unkept.empty()) {
    std::string why;
    for (const std::string& line : unkept) why += "\n  - " + line;
    return Refuse(Error{ErrorKind::kConflict,
                        "domain '" + planned->plan.domain +
                            "': an existing NVDIMM layout cannot be kept, and rewrite never moves "
                            "one:" +
                            why + "\nFix the device by hand, or use nvdimmctl sync " +
                            planned->plan.domain + " --relayout on a defined domain"});
  }
  for (const std::string& warning : planned->plan.warnings) {
    std::cerr << "warning: " << warning << "\n";
  }
  for (const std::string& change : planned->xml.Apply(planned->plan)) {
    std::cerr << "changed: " << change << "\n";
  }
  std::cout << planned->xml.Serialize();
  return kExitOk;
}

}  // namespace nvh::cli
