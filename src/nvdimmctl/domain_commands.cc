// attach, detach, sync, check: the commands that read or change a domain's
// persistent definition through libvirt. Each changes nothing when it refuses.
#include <iostream>

#include "core/plan.h"
#include "guard/guard.h"
#include "libvirt/connection.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
#include "state/layout_store.h"
#include "util/bytes.h"
#include "xml/annotation_xml.h"

namespace po = boost::program_options;

namespace nvh::cli {
namespace {

struct DomainOptions {
  std::string uri;
  std::string domain;
  std::string selector;
  InventoryOptions inventory;

  po::options_description Describe(const char* usage, bool with_selector) {
    po::options_description options(usage);
    options.add_options()("connect,c", po::value(&uri), "libvirt URI, as for virsh -c")(
        "domain", po::value(&domain), "domain name");
    if (with_selector) {
      options.add_options()("selector", po::value(&selector),
                            "namespace uuid, ndctl name (namespaceX.Y) or device path");
    }
    inventory.AddTo(options);
    return options;
  }
  void Parse(const std::vector<std::string>& args, const po::options_description& options,
             bool with_selector) {
    po::positional_options_description positional;
    positional.add("domain", 1);
    if (with_selector) positional.add("selector", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
    if (domain.empty()) throw po::error("a DOMAIN argument is required");
    if (with_selector && selector.empty()) throw po::error("a SELECTOR argument is required");
  }
};

// The persistent definition, parsed and read, from a connection.
struct Definition {
  DomainXml xml;
  Domain domain;
};

Result<Definition> ReadDefinition(const LibvirtConnection& connection, const std::string& name) {
  auto text = connection.PersistentXml(name);
  if (!text) return std::unexpected(text.error());
  auto xml = DomainXml::Parse(*text, "domain '" + name + "'");
  if (!xml) return std::unexpected(xml.error());
  auto domain = xml->Read();
  if (!domain) return std::unexpected(domain.error());
  return Definition{std::move(*xml), std::move(*domain)};
}

Result<LibvirtConnection> OpenStopped(const std::string& uri, const std::string& name) {
  auto connection = LibvirtConnection::Open(uri);
  if (!connection) return std::unexpected(connection.error());
  auto active = connection->IsActive(name);
  if (!active) return std::unexpected(active.error());
  if (*active) {
    return Fail(ErrorKind::kConflict, "domain '" + name +
                                          "' is running: NVDIMMs are not hot-plugged; shut it "
                                          "down first");
  }
  return connection;
}

NvdimmRequest RequestFor(const std::string& selector) {
  NvdimmRequest request;
  request.value = selector;
  if (selector.starts_with("/")) {
    request.kind = SelectorKind::kPath;
  } else if (selector.starts_with("namespace")) {
    request.kind = SelectorKind::kNamespace;
  } else {
    request.kind = SelectorKind::kUuid;
  }
  return request;
}

Result<HostNamespaces> ListNamespaces(const InventoryOptions& inventory) {
  return inventory.Open()->List();
}

// Plans from the definition as it now stands, rewrites and defines it; prints
// each change. Nothing is defined when planning fails.
// An existing layout moves only with options.relayout (sync --relayout).
Result<Plan> RewriteAndDefine(const LibvirtConnection& connection, Definition& definition,
                              const HostNamespaces& namespaces, const PlanOptions& options) {
  auto reread = definition.xml.Read();
  if (!reread) return std::unexpected(reread.error());
  auto plan = MakePlan(*reread, namespaces, options);
  if (!plan) return std::unexpected(plan.error());
  if (const auto unkept = UnkeptLayouts(*plan); !options.relayout && !unkept.empty()) {
    std::string why;
    for (const std::string& line : unkept) why += "\n  - " + line;
    return Fail(ErrorKind::kConflict,
                "domain '" + plan->domain +
                    "': not defined: an existing NVDIMM layout cannot be kept:" + why +
                    "\nnvdimmctl sync " + plan->domain +
                    " --relayout replaces it, saying first what the guest loses");
  }
  const auto changes = definition.xml.Apply(*plan);
  if (auto defined = connection.Define(definition.xml.Serialize()); !defined) {
    return std::unexpected(defined.error());
  }
  for (const std::string& change : changes) std::cout << "changed: " << change << "\n";
  for (const PlannedDevice& d : plan->devices) {
    std::cout << d.path << " (" << d.host.dev << "): target " << FormatSize(d.layout.target_size)
              << ", guest " << FormatSize(d.layout.guest_size) << ", node " << d.node << "\n";
  }
  for (const std::string& note : KeptLayoutNotes(*plan)) std::cout << note << "\n";
  return plan;
}

// The layouts the domain's last start recorded, which the plan keeps; an
// unreadable record gives none (prepare refuses it anyway).
PlanOptions RecordedOptions(const LayoutStore& layouts, const Domain& domain) {
  PlanOptions options;
  auto record = layouts.Load(domain.uuid);
  if (record && *record) options.recorded = RecordedLayouts(**record);
  return options;
}

// A domain that has started before has a layout record; a namespace attached
// since is new to it, not a change of the others. Only devices the record
// does not know are added: a changed one still needs `sync`.
void RecordAttachedDevices(const Domain& domain, const Plan& plan) {
  auto config = LoadConfig();
  if (!config) return;
  const LayoutStore layouts(config->state_dir);
  auto record = layouts.Load(domain.uuid);
  if (!record || !*record) return;
  LayoutRecord updated = **record;
  for (const LayoutDevice& device : RecordFromPlan(plan, domain.uuid, domain.name).devices) {
    const bool known = std::any_of(updated.devices.begin(), updated.devices.end(),
                                   [&](const LayoutDevice& d) { return d.key == device.key; });
    if (!known) updated.devices.push_back(device);
  }
  if (auto saved = layouts.Save(domain.uuid, updated); !saved) {
    std::cerr << "nvdimmctl: warning: layout record not updated: " << saved.error().message << "\n";
  }
}

int Attach(const std::vector<std::string>& args) {
  DomainOptions o;
  int node = -1;
  std::string label;
  auto options = o.Describe("nvdimmctl attach DOMAIN SELECTOR [options]", true);
  options.add_options()("node", po::value(&node), "guest NUMA node")("label", po::value(&label),
                                                                     "label size (default 128KiB)");
  o.Parse(args, options, true);
  NvdimmRequest request = RequestFor(o.selector);
  if (node >= 0) request.node = node;
  if (!label.empty()) {
    auto size = ParseSize(label);
    if (!size) return Refuse(size.error());
    request.label_size = *size;
  }
  if (auto valid = xml::CheckRequest(request); !valid) {
    return Refuse(WithContext(valid.error(), "domain '" + o.domain + "': "));
  }
  auto connection = OpenStopped(o.uri, o.domain);
  if (!connection) return Refuse(connection.error());
  auto definition = ReadDefinition(*connection, o.domain);
  if (!definition) return Refuse(definition.error());
  auto namespaces = ListNamespaces(o.inventory);
  if (!namespaces) return Refuse(namespaces.error());
  auto config = LoadConfig();
  if (!config) return Refuse(config.error());
  if (auto snapshots = MemorySnapshotProblem(*config, definition->domain, nullptr)) {
    return Refuse(Error{ErrorKind::kConflict, "domain '" + o.domain + "': " + *snapshots});
  }
  // ndctl names and device nodes are renumbered across host reboots (the
  // kernel orders namespaces by start address); the uuid is what stays. Pin
  // the entry to it whenever the namespace has one.
  if (request.kind != SelectorKind::kUuid) {
    for (const HostNamespace& ns : *namespaces) {
      const bool named = request.kind == SelectorKind::kNamespace
                             ? ns.dev == request.value
                             : ns.DevicePath() == request.value;
      if (named && !ns.uuid.empty()) {
        std::cout << DescribeSelector(request) << " is namespace uuid " << ns.uuid
                  << "; annotating by uuid, which survives host reboots\n";
        request.kind = SelectorKind::kUuid;
        request.value = ns.uuid;
        break;
      }
    }
  }
  Annotation annotation = definition->domain.annotation.value_or(Annotation{});
  const bool known = std::any_of(
      annotation.entries.begin(), annotation.entries.end(),
      [&](const NvdimmRequest& r) { return r.kind == request.kind && r.value == request.value; });
  if (known) {
    std::cout << "domain '" << o.domain << "' already has " << DescribeSelector(request) << "\n";
  } else {
    annotation.entries.push_back(request);
    definition->xml.SetAnnotation(annotation);
  }
  auto plan = RewriteAndDefine(*connection, *definition, *namespaces,
                               RecordedOptions(LayoutStore(config->state_dir), definition->domain));
  if (!plan) return Refuse(plan.error());
  RecordAttachedDevices(definition->domain, *plan);
  return kExitOk;
}

int Detach(const std::vector<std::string>& args) {
  DomainOptions o;
  auto options = o.Describe("nvdimmctl detach DOMAIN SELECTOR [options]", true);
  o.Parse(args, options, true);
  const NvdimmRequest wanted = RequestFor(o.selector);
  auto connection = OpenStopped(o.uri, o.domain);
  if (!connection) return Refuse(connection.error());
  auto definition = ReadDefinition(*connection, o.domain);
  if (!definition) return Refuse(definition.error());
  auto namespaces = ListNamespaces(o.inventory);
  if (!namespaces) return Refuse(namespaces.error());
  // The plan of the definition as it is tells which device and namespace an
  // entry made; it may fail (a namespace gone from the host): then only a
  // literal match and a path selector are known.
  const auto plan = MakePlan(definition->domain, *namespaces);
  Annotation annotation = definition->domain.annotation.value_or(Annotation{});
  auto entry = std::find_if(
      annotation.entries.begin(), annotation.entries.end(),
      [&](const NvdimmRequest& r) { return r.kind == wanted.kind && r.value == wanted.value; });
  const PlannedDevice* device = nullptr;
  if (plan) {
    for (const PlannedDevice& d : plan->devices) {
      if (!d.request) continue;
      const bool named =
          entry != annotation.entries.end()
              ? *d.request == *entry
              : (wanted.kind == SelectorKind::kNamespace && d.host.dev == wanted.value) ||
                    (wanted.kind == SelectorKind::kPath && d.path == wanted.value);
      if (named) device = &d;
    }
    // attach stores uuids: the entry a name or path selector means.
    if (entry == annotation.entries.end() && device != nullptr) {
      entry = std::find(annotation.entries.begin(), annotation.entries.end(), *device->request);
    }
  }
  if (entry == annotation.entries.end()) {
    return Refuse(Error{ErrorKind::kNotFound, "domain '" + o.domain + "' has no entry " +
                                                  DescribeSelector(wanted) + " to detach"});
  }
  const std::string path =
      device ? device->path : (wanted.kind == SelectorKind::kPath ? wanted.value : "");
  annotation.entries.erase(entry);
  definition->xml.SetAnnotation(annotation);
  const bool removed = !path.empty() && definition->xml.RemoveNvdimm(path);
  if (auto defined = connection->Define(definition->xml.Serialize()); !defined) {
    return Refuse(defined.error());
  }
  std::cout << "detached " << DescribeSelector(wanted) << " from domain '" << o.domain << "'"
            << (removed ? ", removed nvdimm " + path : std::string()) << "\n";
  if (!removed) {
    std::cerr << "nvdimmctl: warning: no nvdimm device removed"
              << (plan ? std::string() : " (" + plan.error().message + ")")
              << "; remove it by hand if the domain still has one\n";
  }
  // The namespace is no longer this guest's: forget its layout, so the next
  // start does not report it as removed.
  auto config = LoadConfig();
  if (!config) return kExitOk;
  const LayoutStore layouts(config->state_dir);
  auto record = layouts.Load(definition->domain.uuid);
  if (!record || !*record) return kExitOk;
  LayoutRecord kept = **record;
  std::erase_if(kept.devices, [&](const LayoutDevice& d) {
    return device ? d.key == device->host.IdentityKey() : d.path == path;
  });
  std::optional<Error> failed;
  if (kept.devices.empty()) {
    if (auto removed_record = layouts.Remove(definition->domain.uuid); !removed_record) {
      failed = removed_record.error();
    }
  } else if (auto saved = layouts.Save(definition->domain.uuid, kept); !saved) {
    failed = saved.error();
  }
  if (failed) {
    std::cerr << "nvdimmctl: warning: layout record not updated: " << failed->message << "\n";
  }
  return kExitOk;
}

// Per device of the relayout plan: the layout the guest has (record, else
// definition) and the one it gets, and what the guest sees of the move.
std::vector<std::string> DescribeRelayout(const Plan& relayout) {
  std::vector<std::string> out;
  for (const PlannedDevice& d : relayout.devices) {
    const std::string who = d.path + " (" + d.host.dev + ")";
    if (!d.existing) {
      out.push_back(who + ": new device: " + DescribeLayout(d.layout));
      continue;
    }
    const Layout& old = d.existing->existing;
    if (old == d.layout) {
      out.push_back(who + ": stays: " + DescribeLayout(d.layout));
      continue;
    }
    out.push_back(who + ":\n      old (" + std::string(LayoutSourceName(d.existing->source)) +
                  "): " + DescribeLayout(old) + "\n      new: " + DescribeLayout(d.layout) +
                  "\n      the guest sees: " + DescribeLayoutMove(old, d.layout));
  }
  return out;
}

int Sync(const std::vector<std::string>& args) {
  DomainOptions o;
  bool relayout = false;
  bool accept = false;
  auto options = o.Describe("nvdimmctl sync DOMAIN [--relayout] [options]", false);
  options.add_options()("relayout", po::bool_switch(&relayout),
                        "move existing NVDIMM layouts to the computed ones, after printing per "
                        "device what the guest loses")(
      "accept-layout-change", po::bool_switch(&accept), "the old name of --relayout");
  o.Parse(args, options, false);
  relayout = relayout || accept;

  auto config = LoadConfig();
  if (!config) return Refuse(config.error());
  auto connection = LibvirtConnection::Open(o.uri);
  if (!connection) return Refuse(connection.error());
  auto definition = ReadDefinition(*connection, o.domain);
  if (!definition) return Refuse(definition.error());
  auto namespaces = ListNamespaces(o.inventory);
  if (!namespaces) return Refuse(namespaces.error());
  const LayoutStore layouts(config->state_dir);
  auto record = layouts.Load(definition->domain.uuid);
  if (!record) return Refuse(record.error());
  PlanOptions keep;
  if (*record) keep.recorded = RecordedLayouts(**record);
  PlanOptions fresh = keep;
  fresh.relayout = true;

  auto plan = MakePlan(definition->domain, *namespaces, keep);
  std::vector<std::string> moves;
  if (plan) {
    moves = UnkeptLayouts(*plan);
    if (*record) {
      for (const std::string& line :
           CompareLayouts(**record, RecordFromPlan(*plan, definition->domain.uuid, o.domain))) {
        std::cout << "since the last start: " << line << "\n";
      }
      const auto data =
          DataMoves(**record, RecordFromPlan(*plan, definition->domain.uuid, o.domain));
      moves.insert(moves.end(), data.begin(), data.end());
    }
  } else if (!relayout) {
    return Refuse(plan.error());
  }
  if (!relayout) {
    if (moves.empty()) {
      auto defined = RewriteAndDefine(*connection, *definition, *namespaces, keep);
      if (!defined) return Refuse(defined.error());
      std::cout << "domain '" << o.domain << "': no NVDIMM layout moved\n";
      return kExitOk;
    }
    std::cout << "The NVDIMM layout of domain '" << o.domain << "' cannot stay as it is:\n";
    for (const std::string& line : moves) std::cout << "  - " << line << "\n";
    if (auto preview = MakePlan(definition->domain, *namespaces, fresh)) {
      std::cout << "nvdimmctl sync " << o.domain << " --relayout would do this:\n";
      for (const std::string& line : DescribeRelayout(*preview)) std::cout << "  " << line << "\n";
    }
    std::cerr << "nvdimmctl: domain '" << o.domain
              << "': not synced, nothing changed; run again with --relayout to move the "
                 "layout as said above\n";
    return kExitRefused;
  }

  auto moved = MakePlan(definition->domain, *namespaces, fresh);
  if (!moved) return Refuse(moved.error());
  std::cout << "Relayout of domain '" << o.domain << "':\n";
  for (const std::string& line : DescribeRelayout(*moved)) std::cout << "  " << line << "\n";
  auto defined = RewriteAndDefine(*connection, *definition, *namespaces, fresh);
  if (!defined) return Refuse(defined.error());
  // From now on the new layout is the guest's: the next start keeps it.
  if (*record) {
    if (auto saved = layouts.Save(definition->domain.uuid,
                                  RecordFromPlan(*defined, definition->domain.uuid, o.domain));
        !saved) {
      return Refuse(saved.error());
    }
  }
  std::cout << "accepted the new layout for domain '" << o.domain << "'\n";
  return kExitOk;
}

int Check(const std::vector<std::string>& args) {
  DomainOptions o;
  auto options = o.Describe("nvdimmctl check DOMAIN [options]", false);
  o.Parse(args, options, false);
  auto config = LoadConfig();
  if (!config) return Refuse(config.error());
  if (!o.inventory.source.empty()) config->inventory = o.inventory.source;
  if (!o.inventory.device_dir.empty()) config->device_dir = o.inventory.device_dir;
  auto connection = LibvirtConnection::Open(o.uri);
  if (!connection) return Refuse(connection.error());
  auto definition = ReadDefinition(*connection, o.domain);
  if (!definition) return Refuse(definition.error());
  StderrDecisionLog log;  // probe warnings, probe = off
  Guard guard(PartsFromConfig(*config, &log));
  const HookOutcome outcome = guard.Check(definition->domain);
  if (outcome.exit_code != 0) {
    std::cerr << outcome.user_message;
    return kExitRefused;
  }
  for (const std::string& note : outcome.notes) std::cout << note << "\n";
  std::cout << "domain '" << o.domain << "': prepare would allow the start\n";
  return kExitOk;
}

}  // namespace

int RunAttach(const std::vector<std::string>& args) {
  return Attach(args);
}
int RunDetach(const std::vector<std::string>& args) {
  return Detach(args);
}
int RunSync(const std::vector<std::string>& args) {
  return Sync(args);
}
int RunCheck(const std::vector<std::string>& args) {
  return Check(args);
}

}  // namespace nvh::cli
