// attach, detach, sync, check: the commands that read or change a domain's
// persistent definition through libvirt. Each changes nothing when it refuses.
#include <iostream>

#include "core/plan.h"
#include "guard/guard.h"
#include "libvirt/connection.h"
#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"
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
Result<Plan> RewriteAndDefine(const LibvirtConnection& connection, Definition& definition,
                              const HostNamespaces& namespaces) {
  auto reread = definition.xml.Read();
  if (!reread) return std::unexpected(reread.error());
  auto plan = MakePlan(*reread, namespaces);
  if (!plan) return std::unexpected(plan.error());
  const auto changes = definition.xml.Apply(*plan);
  if (auto defined = connection.Define(definition.xml.Serialize()); !defined) {
    return std::unexpected(defined.error());
  }
  for (const std::string& change : changes) std::cout << "changed: " << change << "\n";
  for (const PlannedDevice& d : plan->devices) {
    std::cout << d.path << " (" << d.host.dev << "): target " << FormatSize(d.layout.target_size)
              << ", guest " << FormatSize(d.layout.guest_size) << ", node " << d.node << "\n";
  }
  return plan;
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
  auto plan = RewriteAndDefine(*connection, *definition, *namespaces);
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

int Sync(const std::vector<std::string>& args) {
  DomainOptions o;
  bool accept = false;
  auto options = o.Describe("nvdimmctl sync DOMAIN [--accept-layout-change] [options]", false);
  options.add_options()("accept-layout-change", po::bool_switch(&accept),
                        "accept a namespace or layout that changed since the last start");
  o.Parse(args, options, false);

  auto config = LoadConfig();
  if (!config) return Refuse(config.error());
  auto connection = LibvirtConnection::Open(o.uri);
  if (!connection) return Refuse(connection.error());
  auto definition = ReadDefinition(*connection, o.domain);
  if (!definition) return Refuse(definition.error());
  auto namespaces = ListNamespaces(o.inventory);
  if (!namespaces) return Refuse(namespaces.error());
  auto plan = MakePlan(definition->domain, *namespaces);
  if (!plan) return Refuse(plan.error());

  const LayoutStore layouts(config->state_dir);
  auto record = layouts.Load(definition->domain.uuid);
  if (!record) return Refuse(record.error());
  const LayoutRecord now = RecordFromPlan(*plan, definition->domain.uuid, definition->domain.name);
  const auto changes = *record ? CompareLayouts(**record, now) : std::vector<std::string>{};
  if (!changes.empty()) {
    std::cout << "The NVDIMM layout of domain '" << o.domain << "' changed since its last start:\n";
    for (const std::string& change : changes) std::cout << "  - " << change << "\n";
    if (!accept) {
      std::cerr << "nvdimmctl: not synced; run again with --accept-layout-change to accept "
                   "this for domain '"
                << o.domain << "'\n";
      return kExitRefused;
    }
  }
  if (auto defined = RewriteAndDefine(*connection, *definition, *namespaces); !defined) {
    return Refuse(defined.error());
  }
  if (!changes.empty()) {
    if (auto saved = layouts.Save(definition->domain.uuid, now); !saved) {
      return Refuse(saved.error());
    }
    std::cout << "accepted the new layout for domain '" << o.domain << "'\n";
  }
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
