#include <iostream>
#include <map>
#include <set>

#include "ndctl/inventory_source.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "state/claim_store.h"
#include "state/layout_store.h"
#include "state/libvirt_files.h"
#include "state/state_names.h"
#include "util/bytes.h"

namespace po = boost::program_options;

namespace nvh::cli {
namespace {

void PrintProblems(const char* what, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) std::cout << "  " << what << ": " << line << "\n";
}

// Every nvdimm that a running domain maps, from libvirt's live status files:
// also those plugged with `virsh attach-device --live`, which no hook sees.
// Returns the number of warnings.
int PrintLiveMappings(const HookConfig& config, const std::vector<ClaimStatus>& claims,
                      std::set<std::string>& domains) {
  auto namespaces = OpenInventory(config.inventory, config.device_dir)->List();
  const auto live = ScanLiveDomains(config.libvirt_run_dirs);
  std::cout << "live NVDIMM mappings (libvirt status files in";
  for (const std::string& dir : config.libvirt_run_dirs) std::cout << " " << dir;
  std::cout << "):\n";
  if (!namespaces) {
    std::cout << "  WARNING: cannot match paths to namespaces: " << namespaces.error().message
              << "\n";
  }
  int warnings = 0;
  std::map<std::string, std::vector<const LiveDomain*>> by_path;
  for (const LiveDomain& d : live.found) {
    for (const std::string& path : d.nvdimm_paths) by_path[path].push_back(&d);
  }
  if (by_path.empty()) std::cout << "  none\n";
  for (const auto& [path, users] : by_path) {
    const HostNamespace* ns = nullptr;
    if (namespaces) {
      for (const HostNamespace& n : *namespaces) {
        if (!n.DevicePath().empty() && n.DevicePath() == path) ns = &n;
      }
    }
    for (const LiveDomain* user : users) {
      std::cout << "  " << path << "  mapped by '" << user->name << "' (" << user->uuid << ")";
      if (ns == nullptr) {
        std::cout << "  (not a host NVDIMM namespace)\n";
        continue;
      }
      domains.insert(user->uuid);
      std::cout << "  " << ns->dev << "\n";
      const ClaimStatus* claim = nullptr;
      for (const ClaimStatus& c : claims) {
        if (c.key == ns->IdentityKey() && c.claim) claim = &c;
      }
      if (claim == nullptr) {
        ++warnings;
        std::cout << "    WARNING: NO CLAIM: plugged with `virsh attach-device --live` (no hook "
                     "runs for it); another guest can start on this namespace and both write it\n";
      } else if (NormalizeUuid(claim->claim->owner.uuid) != user->uuid) {
        ++warnings;
        std::cout << "    WARNING: the namespace is claimed by domain '" << claim->claim->owner.name
                  << "' (" << claim->claim->owner.uuid
                  << "): two guests map it and destroy each other's data\n";
      }
    }
    if (ns != nullptr && users.size() > 1) {
      ++warnings;
      std::cout << "    WARNING: " << users.size() << " running domains map " << ns->dev << "\n";
    }
  }
  PrintProblems("WARNING: unreadable", live.unreadable);
  PrintProblems("skipped", live.skipped);
  return warnings + static_cast<int>(live.unreadable.size());
}

// Memory snapshots of the domains status knows of (claims, records, live
// mappings): a revert of one overwrites the domain's NVDIMMs.
int PrintMemorySnapshots(const HookConfig& config, const std::set<std::string>& domains) {
  const auto scan = ScanSnapshots(config.libvirt_snapshot_dirs);
  std::cout << "memory snapshots of NVDIMM domains (libvirt snapshot metadata in";
  for (const std::string& dir : config.libvirt_snapshot_dirs) std::cout << " " << dir;
  std::cout << "):\n";
  int warnings = 0;
  for (const SnapshotInfo& s : scan.found) {
    if (!s.HasMemory() || !domains.contains(s.domain_uuid)) continue;
    ++warnings;
    std::cout << "  WARNING: '" << s.domain_name << "' (" << s.domain_uuid << ") snapshot '"
              << s.name << "' (" << s.state << ", memory " << s.memory
              << "): a revert overwrites its NVDIMMs; the hook refuses its starts until `virsh "
                 "snapshot-delete "
              << s.domain_name << " " << s.name << "`\n";
  }
  if (warnings == 0) std::cout << "  none\n";
  PrintProblems("WARNING: unreadable", scan.unreadable);
  PrintProblems("skipped", scan.skipped);
  return warnings + static_cast<int>(scan.unreadable.size());
}

}  // namespace

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
  std::set<std::string> domains;  // uuids of the domains with NVDIMMs status knows of
  for (const ClaimStatus& c : *listed) {
    if (c.claim) domains.insert(NormalizeUuid(c.claim->owner.uuid));
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
    domains.insert(NormalizeUuid(entry.domain_uuid));
    std::cout << "  " << entry.domain_uuid << "  domain '" << entry.record->domain_name << "'\n";
    for (const LayoutDevice& d : entry.record->devices) {
      std::cout << "    " << d.path << " (" << d.dev << ", " << d.key << "): target "
                << FormatSize(d.layout.target_size) << ", label " << FormatSize(d.layout.label_size)
                << ", guest " << FormatSize(d.layout.guest_size) << "\n";
    }
  }
  const int warnings =
      PrintLiveMappings(*config, *listed, domains) + PrintMemorySnapshots(*config, domains);
  if (warnings != 0) {
    std::cerr << "nvdimmctl: " << warnings << " warning(s): see WARNING lines above\n";
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace nvh::cli
