// The hook's decisions, one per libvirt operation (DESIGN.md §4), as a value
// the thin main prints. Everything it reads or changes comes in through
// GuardParts, so tests can run every operation against fakes or temp dirs.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/hook_config.h"
#include "core/decision_log.h"
#include "core/domain.h"
#include "core/inventory.h"
#include "core/plan.h"
#include "state/claim_store.h"
#include "state/layout_store.h"

namespace nvh {

struct HookInvocation {
  std::string domain_name;  // argv[1]
  std::string op;           // argv[2]: prepare, start, …
  std::string subop;        // argv[3]: begin, end, …
  std::string xml;          // stdin
};

struct HookOutcome {
  int exit_code = 0;         // 0 allow, 1 refuse
  std::string user_message;  // stderr: libvirt shows it to the virsh user on refusal
  // What an allowed start keeps as it is (kept existing layouts), for
  // `nvdimmctl check`.
  std::vector<std::string> notes;
};

// QEMU's own layout check (issue 5): refuses when the domain's emulator would
// not give the planned guest size. Empty = not wired.
using LayoutVerifier = std::function<Result<void>(const Domain&, const Plan&)>;

struct GuardParts {
  HookConfig config;
  std::function<std::unique_ptr<Inventory>()> open_inventory;
  std::shared_ptr<const ClaimStore> claims;
  std::shared_ptr<const LayoutStore> layouts;
  DecisionLog* log = nullptr;
  LayoutVerifier verify_layout;
};

// The real parts for a config: its inventory, claim and layout stores, and
// the QEMU probe with its cache in the state dir.
GuardParts PartsFromConfig(const HookConfig& config, DecisionLog* log);

class Guard {
 public:
  explicit Guard(GuardParts parts) : parts_(std::move(parts)) {}

  // `domain` is the parsed stdin; the caller has already taken the fast path
  // for domains that do not concern us.
  HookOutcome Run(const HookInvocation& call, const Domain& domain);

  // What `prepare` would decide, taking no claims and writing no layout
  // record (`nvdimmctl check`); the QEMU probe may run and fill its cache.
  HookOutcome Check(const Domain& domain);

 private:
  HookOutcome Prepare(const Domain& domain, bool take_claims);
  HookOutcome Start(const Domain& domain);
  HookOutcome RefuseMove(const std::string& op, const Domain& domain);
  HookOutcome Reconnect(const Domain& domain);
  HookOutcome Release(const std::string& op, const Domain& domain);

  // The plan with the layouts of the domain's last start (its record) as the
  // authority on what the guest saw.
  Result<Plan> PlanFor(const Domain& domain, const std::optional<LayoutRecord>& record);
  Result<Plan> PlanFor(const Domain& domain);
  // Refusal reasons that concern libvirt's own files: memory snapshots of the
  // domain, and namespaces that another running domain maps without a claim.
  std::optional<std::string> LiveMappingProblem(const Domain& domain, const Plan& plan);
  HookOutcome Refuse(const Domain& domain, const std::string& op, const std::string& why);
  void Log(Severity severity, const std::string& line);

  GuardParts parts_;
};

// Why the domain may not start while it has snapshots with memory state (or
// when libvirt's snapshot metadata cannot be read), naming the snapshots and
// the `virsh snapshot-delete` that fixes it; nullopt when none. Skipped
// (unparsable) files go to `log`. Also for `nvdimmctl attach`.
std::optional<std::string> MemorySnapshotProblem(const HookConfig& config, const Domain& domain,
                                                 DecisionLog* log);

// Claim keys of a plan's namespaces, in plan order.
std::vector<std::string> ClaimKeys(const Plan& plan);

}  // namespace nvh
