#include "guard/guard.h"

#include <algorithm>

#include "ndctl/inventory_source.h"
#include "probe/layout_check.h"
#include "state/libvirt_files.h"
#include "state/state_names.h"
#include "util/bytes.h"

namespace nvh {
namespace {

std::string Bullets(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n  - " + line;
  return out;
}

std::string DescribeDevices(const Plan& plan) {
  std::string out;
  for (const PlannedDevice& d : plan.devices) {
    if (!out.empty()) out += ", ";
    out += d.host.dev + " (" + d.path + ", guest " + FormatSize(d.layout.guest_size) + ")";
  }
  return out;
}

}  // namespace

GuardParts PartsFromConfig(const HookConfig& config, DecisionLog* log) {
  GuardParts parts;
  parts.config = config;
  parts.open_inventory = [config] { return OpenInventory(config.inventory, config.device_dir); };
  parts.claims = std::make_shared<ClaimStore>(ClaimStore::FromConfig(config));
  parts.layouts = std::make_shared<LayoutStore>(config.state_dir);
  parts.log = log;
  // Launches the domain's own emulator when the cache (keyed by the binary's
  // identity) has no measurement for this geometry.
  parts.verify_layout = [state_dir = config.state_dir, timeout = config.probe_timeout, log](
                            const Domain& domain, const Plan& plan) -> Result<void> {
    LayoutCheckOptions options;
    options.state_dir = state_dir;
    options.timeout = timeout;
    std::vector<std::string> warnings;
    auto report = CheckPlanLayout(domain, plan, options, &warnings);
    for (const std::string& warning : warnings) {
      if (log != nullptr)
        log->Record(Severity::kWarning, "domain '" + domain.name + "': " + warning);
    }
    if (!report) return std::unexpected(report.error());
    return {};
  };
  return parts;
}

std::vector<std::string> ClaimKeys(const Plan& plan) {
  std::vector<std::string> keys;
  for (const PlannedDevice& d : plan.devices) keys.push_back(d.host.IdentityKey());
  return keys;
}

void Guard::Log(Severity severity, const std::string& line) {
  if (parts_.log != nullptr) parts_.log->Record(severity, line);
}

HookOutcome Guard::Refuse(const Domain& domain, const std::string& op, const std::string& why) {
  Log(Severity::kWarning, "domain '" + domain.name + "' " + op + ": refused: " + why);
  return {1, "nvdimm-hook: domain '" + domain.name + "': " + why + "\n", {}};
}

Result<Plan> Guard::PlanFor(const Domain& domain, const std::optional<LayoutRecord>& record) {
  auto namespaces = parts_.open_inventory()->List();
  if (!namespaces) {
    return std::unexpected(WithContext(namespaces.error(), "the host NVDIMM inventory: "));
  }
  PlanOptions options;
  if (record) options.recorded = RecordedLayouts(*record);
  return MakePlan(domain, *namespaces, options);
}

Result<Plan> Guard::PlanFor(const Domain& domain) {
  auto record = parts_.layouts->Load(domain.uuid);
  if (!record) return std::unexpected(WithContext(record.error(), "layout record: "));
  return PlanFor(domain, *record);
}

std::optional<std::string> MemorySnapshotProblem(const HookConfig& config, const Domain& domain,
                                                 DecisionLog* log) {
  const auto scan = ScanSnapshots(config.libvirt_snapshot_dirs, domain.uuid);
  for (const std::string& skipped : scan.skipped) {
    if (log != nullptr) {
      log->Record(Severity::kWarning,
                  "domain '" + domain.name + "': skipped snapshot file: " + skipped);
    }
  }
  if (!scan.unreadable.empty()) {
    std::string dirs;
    for (const std::string& u : scan.unreadable) dirs += (dirs.empty() ? "" : "; ") + u;
    return "cannot read libvirt's snapshot metadata (" + dirs +
           "), so a memory snapshot, whose revert would overwrite the NVDIMMs, could be missed. "
           "Make it readable, or set libvirt-snapshot-dir in " +
           (config.source.empty() ? std::string(kDefaultConfigPath) : config.source);
  }
  const auto snapshots = MemorySnapshotsOf(scan, domain.uuid);
  if (snapshots.empty()) return std::nullopt;
  std::string names;
  std::string fixes;
  for (const SnapshotInfo& snapshot : snapshots) {
    names += (names.empty() ? "'" : ", '") + snapshot.name + "' (" + snapshot.state + ", memory " +
             (snapshot.memory.empty() ? std::string("implied") : snapshot.memory) + ")";
    fixes += (fixes.empty() ? "" : "; ") +
             ("virsh snapshot-delete " + domain.name + " " + snapshot.name);
  }
  return "the domain has snapshots with memory state: " + names +
         ". Reverting to one (virsh snapshot-revert) restarts QEMU with the snapshot's RAM, "
         "which includes its NVDIMMs: their content of snapshot time would overwrite what the "
         "guest wrote since. No hook runs at snapshot-create. To fix: " +
         fixes;
}

std::optional<std::string> Guard::LiveMappingProblem(const Domain& domain, const Plan& plan) {
  const auto scan = ScanLiveDomains(parts_.config.libvirt_run_dirs);
  for (const std::string& skipped : scan.skipped) {
    Log(Severity::kWarning,
        "domain '" + domain.name + "': skipped libvirt status file: " + skipped);
  }
  for (const LiveDomain& live : scan.found) {
    if (live.uuid == NormalizeUuid(domain.uuid)) continue;
    for (const PlannedDevice& d : plan.devices) {
      if (std::find(live.nvdimm_paths.begin(), live.nvdimm_paths.end(), d.path) ==
          live.nvdimm_paths.end()) {
        continue;
      }
      return "namespace " + d.host.dev + " (" + d.path + ") is mapped by running domain '" +
             live.name + "' (" + live.uuid + ", " + live.file +
             ") without a claim: it was plugged with `virsh attach-device --live`, which runs "
             "no hook. Two guests writing one namespace destroy each other's data. Shut '" +
             live.name + "' down first (QEMU cannot unplug an NVDIMM)";
    }
  }
  return std::nullopt;
}

HookOutcome Guard::Run(const HookInvocation& call, const Domain& domain) {
  if (call.op == "prepare") return Prepare(domain, /*take_claims=*/true);
  if (call.op == "start") return Start(domain);
  if (call.op == "migrate" || call.op == "restore") return RefuseMove(call.op, domain);
  if (call.op == "reconnect") return Reconnect(domain);
  if (call.op == "stopped" || call.op == "release") return Release(call.op, domain);
  return {};
}

HookOutcome Guard::Check(const Domain& domain) {
  return Prepare(domain, /*take_claims=*/false);
}

HookOutcome Guard::Prepare(const Domain& domain, bool take_claims) {
  const std::string op = take_claims ? "prepare" : "check";
  auto record = parts_.layouts->Load(domain.uuid);
  if (!record) return Refuse(domain, op, "layout record: " + record.error().message);
  auto plan = PlanFor(domain, *record);
  if (!plan) return Refuse(domain, op, plan.error().message);
  if (plan->devices.empty()) {
    // An nvdimm on some other /dev node: not ours to guard.
    Log(Severity::kInfo, "domain '" + domain.name + "' " + op + ": no host NVDIMM namespace");
    return {};
  }
  for (const PlannedDevice& d : plan->devices) {
    if (!d.request) {
      Log(Severity::kNotice, "domain '" + domain.name + "': nvdimm " + d.path +
                                 " is host namespace " + d.host.dev +
                                 " but has no annotation; guarding it anyway. Add "
                                 "<nvdimm:nvdimm uuid=\"" +
                                 d.host.uuid + "\"/> to its metadata (nvdimmctl attach)");
    }
  }
  // Also every `virsh snapshot-revert` to a memory snapshot comes here.
  if (auto snapshots = MemorySnapshotProblem(parts_.config, domain, parts_.log))
    return Refuse(domain, op, *snapshots);

  // The data comes first: a namespace or layout that changed since the last
  // start moves or destroys what the guest wrote.
  std::vector<std::string> problems;
  bool moves = false;
  if (const auto unkept = UnkeptLayouts(*plan); !unkept.empty()) {
    moves = true;
    problems.push_back("an existing NVDIMM layout cannot be kept:" + Bullets(unkept));
  }
  if (*record) {
    const auto changes = DataMoves(**record, RecordFromPlan(*plan, domain.uuid, domain.name));
    if (!changes.empty()) {
      moves = true;
      problems.push_back("the NVDIMM layout changed since the last start:" + Bullets(changes));
    }
  }
  const auto diff = DiffAgainstPlan(domain, *plan);
  if (!diff.empty()) {
    problems.push_back("the definition differs from the NVDIMM plan:" + Bullets(diff));
  }
  if (!problems.empty()) {
    std::string why;
    for (const std::string& p : problems) why += (why.empty() ? "" : "\n") + p;
    // Every command suggested here is safe as printed: plain `sync` never
    // moves a layout (it refuses and says what would move).
    why += moves ? "\nTo see what would move: nvdimmctl sync " + domain.name +
                       "\nTo move it (the guest loses what that says): nvdimmctl sync " +
                       domain.name + " --relayout"
                 : "\nTo fix: nvdimmctl sync " + domain.name +
                       " (it keeps the guest's layout; nothing moves)";
    return Refuse(domain, op, why);
  }

  const ClaimOwner owner{domain.uuid, domain.name};
  if (take_claims) {
    auto claimed = parts_.claims->ClaimAll(owner, ClaimKeys(*plan));
    if (!claimed) return Refuse(domain, op, claimed.error().message);
    for (const TakenOver& t : claimed->taken_over) {
      Log(Severity::kWarning, "domain '" + domain.name + "': took over stale claim of " +
                                  t.previous.key + " from domain '" + t.previous.owner.name +
                                  "' (" + t.previous.owner.uuid + "), " +
                                  std::to_string(t.age.count()) + " s old, no QEMU running");
    }
  } else {
    auto claims = parts_.claims->List();
    if (!claims) return Refuse(domain, op, claims.error().message);
    for (const std::string& key : ClaimKeys(*plan)) {
      for (const ClaimStatus& status : *claims) {
        if (status.key == key && status.claim && status.claim->owner.uuid != domain.uuid &&
            !status.stale) {
          return Refuse(domain, op,
                        "namespace " + key + " is in use by domain '" + status.claim->owner.name +
                            "' (" + status.claim->owner.uuid + ")");
        }
      }
    }
  }
  // Claims cover every start a hook saw; a live attach-device is not one.
  if (auto live = LiveMappingProblem(domain, *plan)) return Refuse(domain, op, *live);
  // After the claim, so a domain that may not have the namespace never costs
  // a QEMU launch; a refusal here is followed by libvirt's `release`.
  if (parts_.config.probe == ProbeMode::kOff) {
    Log(Severity::kWarning,
        "domain '" + domain.name + "': probe = off: QEMU's own NVDIMM layout is not verified");
  } else if (parts_.verify_layout) {
    if (auto verified = parts_.verify_layout(domain, *plan); !verified) {
      return Refuse(domain, op, verified.error().message);
    }
  }
  // A kept layout is recorded before `start`, so that `start` checks
  // libvirt's sizes against what the guest will run with even at the first
  // start. Unchanged records are not rewritten.
  const LayoutRecord now = RecordFromPlan(*plan, domain.uuid, domain.name);
  if (take_claims && (!*record || (*record)->devices != now.devices)) {
    if (auto saved = parts_.layouts->Save(domain.uuid, now); !saved) {
      return Refuse(domain, op, "cannot record the NVDIMM layout: " + saved.error().message);
    }
  }

  HookOutcome allowed;
  allowed.notes = KeptLayoutNotes(*plan);
  for (const std::string& note : allowed.notes)
    Log(Severity::kInfo, "domain '" + domain.name + "': " + note);
  Log(Severity::kInfo,
      "domain '" + domain.name + "' " + op + ": allowed: " + DescribeDevices(*plan));
  return allowed;
}

HookOutcome Guard::Start(const Domain& domain) {
  // libvirt has applied its own size adjustments by now
  // (qemuDomainMemoryDeviceAlignSize runs after the prepare hook); QEMU does
  // not exist yet.
  auto plan = PlanFor(domain);
  if (!plan) return Refuse(domain, "start", plan.error().message);
  if (plan->devices.empty()) return {};
  const auto diff = DiffAgainstPlan(domain, *plan);
  if (!diff.empty()) {
    return Refuse(domain, "start",
                  "libvirt changed the NVDIMM devices after prepare, so QEMU would not get the "
                  "planned layout:" +
                      Bullets(diff) +
                      "\nThis libvirt adjusts sizes differently than nvdimm-hook expects; the "
                      "start is stopped before QEMU runs.");
  }
  if (auto saved =
          parts_.layouts->Save(domain.uuid, RecordFromPlan(*plan, domain.uuid, domain.name));
      !saved) {
    return Refuse(domain, "start", "cannot record the NVDIMM layout: " + saved.error().message);
  }
  Log(Severity::kInfo,
      "domain '" + domain.name + "' start: layout recorded: " + DescribeDevices(*plan));
  return {};
}

HookOutcome Guard::RefuseMove(const std::string& op, const Domain& domain) {
  if (!domain.annotation || domain.annotation->entries.empty()) {
    // Only an nvdimm on some /dev node: pinned only if it is a host namespace.
    auto plan = PlanFor(domain, std::nullopt);
    if (!plan) return Refuse(domain, op, plan.error().message);
    if (plan->devices.empty()) return {};
  }
  if (op == "migrate") {
    return Refuse(domain, op,
                  "migration refused: its NVDIMM namespaces are host hardware and their contents "
                  "cannot follow the guest. Shut the guest down and start it on this host.");
  }
  return Refuse(domain, op,
                "restore refused: the saved memory image is older than what the guest has "
                "written to its NVDIMMs since, and restoring it would pair stale RAM with newer "
                "persistent memory. Cold-boot instead: for a managed save, `virsh "
                "managedsave-remove " +
                    domain.name + "` then `virsh start " + domain.name +
                    "`; for a save file, `virsh start " + domain.name + "`.");
}

HookOutcome Guard::Reconnect(const Domain& domain) {
  // Never refuse: libvirt kills the running QEMU when reconnect fails.
  auto plan = PlanFor(domain, std::nullopt);
  if (!plan) {
    Log(Severity::kError,
        "domain '" + domain.name + "' reconnect: cannot re-take claims: " + plan.error().message);
    return {};
  }
  auto claimed = parts_.claims->ClaimAll({domain.uuid, domain.name}, ClaimKeys(*plan));
  if (!claimed) {
    Log(Severity::kError, "domain '" + domain.name +
                              "' reconnect: cannot re-take claims: " + claimed.error().message);
    return {};
  }
  Log(Severity::kInfo,
      "domain '" + domain.name + "' reconnect: claims held: " + DescribeDevices(*plan));
  return {};
}

HookOutcome Guard::Release(const std::string& op, const Domain& domain) {
  auto released = parts_.claims->ReleaseAll(domain.uuid);
  if (!released) {
    Log(Severity::kError, "domain '" + domain.name + "' " + op + ": " + released.error().message);
  } else if (!released->empty()) {
    std::string keys;
    for (const std::string& key : *released) keys += (keys.empty() ? "" : ", ") + key;
    Log(Severity::kInfo, "domain '" + domain.name + "' " + op + ": released " + keys);
  }
  return {};
}

}  // namespace nvh
