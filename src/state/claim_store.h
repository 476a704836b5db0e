// Exclusive claims of host NVDIMM namespaces (DESIGN.md §5): a namespace
// belongs to at most one domain at a time, so two guests never write it.
//
// Files: <run_dir>/claims/<namespace key>, one per claimed namespace, JSON:
//   {"version":1,"namespace":KEY,"owner_uuid":UUID,"owner_name":NAME,"taken":UNIX_SECONDS}
// written atomically (state/atomic_file.h), 0600 in 0700 directories. Every
// change happens under one exclusive flock on <run_dir>/claims.lock; reads
// (List) need none, since a file is always either the old or the new one.
// /run is empty after a reboot, which is exactly when every claim must go.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/hook_config.h"
#include "state/owner_liveness.h"
#include "util/error.h"

namespace nvh {

struct ClaimOwner {
  std::string uuid;  // the domain's UUID: who owns the claim
  std::string name;  // the domain's name: to find its QEMU and for messages
};

struct Claim {
  std::string key;  // the namespace key, also the file name
  ClaimOwner owner;
  std::chrono::system_clock::time_point taken;  // whole seconds
};

// A claim of another domain that was stale and is this owner's now; the
// caller logs it.
struct TakenOver {
  Claim previous;
  std::chrono::seconds age{0};
};

struct ClaimResult {
  std::vector<std::string> claimed;  // were free
  std::vector<std::string> renewed;  // were this owner's already
  std::vector<TakenOver> taken_over;
};

// One claim as `nvdimmctl status` shows it.
struct ClaimStatus {
  std::string key;
  std::optional<Claim> claim;  // nullopt when the file does not parse
  std::string problem;         // why it does not
  std::chrono::seconds age{0};
  QemuState owner_qemu = QemuState::kUnknown;
  bool stale = false;
};

// Stale: the owner has no QEMU (a known "not running", never "unknown") AND
// the claim is older than `grace` (between `prepare` and QEMU's fork there is
// no pid file yet). A clock that went backwards gives age 0: not stale.
bool IsStaleClaim(std::chrono::seconds age, std::chrono::seconds grace, QemuState owner_qemu);

std::string ClaimToText(const Claim& claim);
// Parses a claim file; `key` is its file name, which the content must match.
Result<Claim> ClaimFromText(std::string_view text, std::string_view key);

class ClaimStore {
 public:
  ClaimStore(std::string run_dir, std::chrono::seconds grace,
             std::shared_ptr<const OwnerLiveness> liveness,
             std::shared_ptr<const Clock> clock = std::make_shared<SystemClock>());
  // run_dir, claim_grace and libvirt_run_dirs of the config, the real clock.
  static ClaimStore FromConfig(const HookConfig& config);

  // All of `keys` for `owner`, or none. kConflict when another domain holds
  // one and its claim is not stale (the message names each such namespace
  // and its owner's name and uuid); kInvalidInput for a bad uuid, owner name
  // or key. The same owner may claim again (the time is renewed, so is the
  // name: a renamed domain keeps its claims). Stale claims are taken over and
  // reported. Keys of this owner that are not in `keys` are left alone.
  Result<ClaimResult> ClaimAll(const ClaimOwner& owner, const std::vector<std::string>& keys) const;

  // Drops every claim of `owner_uuid`; returns their keys (none is fine).
  // Files that do not parse are left for the admin.
  Result<std::vector<std::string>> ReleaseAll(std::string_view owner_uuid) const;

  // Every claim, by key; empty when the run dir does not exist. Takes no
  // lock and creates nothing.
  Result<std::vector<ClaimStatus>> List() const;

  const std::string& run_dir() const { return run_dir_; }

 private:
  std::chrono::seconds AgeOf(const Claim& claim) const;

  std::string run_dir_;
  std::chrono::seconds grace_;
  std::shared_ptr<const OwnerLiveness> liveness_;
  std::shared_ptr<const Clock> clock_;
};

}  // namespace nvh
