#include <iostream>

#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "state/claim_store.h"
#include "state/layout_store.h"
#include "util/bytes.h"

namespace po = boost::program_options;

namespace nvh::cli {

int RunStatus(const std::vector<std::string>& args) {
  po::options_description options("nvdimmctl status");
  ParseCommand(args, options, nullptr, 0);
  auto config = LoadConfig();
  if (!config) return Refuse(config.error());
  const ClaimStore claims = ClaimStore::FromConfig(*config);
  auto listed = claims.List();
  if (!listed) return Refuse(listed.error());
  std::cout << "claims (" << config->run_dir << "):\n";
  if (listed->empty()) std::cout << "  none\n";
  for (const ClaimStatus& c : *listed) {
    if (!c.claim) {
      std::cout << "  " << c.key << "  unreadable: " << c.problem << "\n";
      continue;
    }
    std::cout << "  " << c.key << "  owner '" << c.claim->owner.name << "' (" << c.claim->owner.uuid
              << "), " << c.age.count() << " s old, QEMU " << QemuStateName(c.owner_qemu)
              << (c.stale ? "  STALE: may be taken over" : "") << "\n";
  }
  auto layouts = LayoutStore(config->state_dir).List();
  if (!layouts) return Refuse(layouts.error());
  std::cout << "layout records (" << config->state_dir << "):\n";
  if (layouts->empty()) std::cout << "  none\n";
  for (const LayoutEntry& entry : *layouts) {
    if (!entry.record) {
      std::cout << "  " << entry.domain_uuid << "  unreadable: " << entry.problem << "\n";
      continue;
    }
    std::cout << "  " << entry.domain_uuid << "  domain '" << entry.record->domain_name << "'\n";
    for (const LayoutDevice& d : entry.record->devices) {
      std::cout << "    " << d.path << " (" << d.dev << ", " << d.key << "): target "
                << FormatSize(d.layout.target_size) << ", label " << FormatSize(d.layout.label_size)
                << ", guest " << FormatSize(d.layout.guest_size) << "\n";
    }
  }
  return kExitOk;
}

}  // namespace nvh::cli
