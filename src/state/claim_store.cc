#include "state/claim_store.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "state/atomic_file.h"
#include "state/state_names.h"

namespace nvh {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr char kClaimsDir[] = "claims";
constexpr char kLockFile[] = "claims.lock";
constexpr int kFormatVersion = 1;
// Far above any claim we write; a bigger file is not ours.
constexpr std::size_t kMaxClaimFile = 64 * 1024;

std::string Seconds(seconds s) {
  return std::to_string(s.count()) + " s";
}

std::optional<std::int64_t> JsonSeconds(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return {};
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    if (v < 0) return {};
    return v;
  }
  return {};
}

// Nothing to claim from, release or list: the run dir or its claims dir was
// never created. Anything else (a symlink, a foreign owner) is an error.
bool Missing(const Error& error) {
  return error.kind == ErrorKind::kNotFound;
}

std::string DescribeConflict(const Claim& claim, seconds age, seconds grace, QemuState qemu) {
  std::string text = "namespace " + claim.key + " is claimed by domain '" + claim.owner.name +
                     "' (uuid " + claim.owner.uuid + ") since " + Seconds(age) + " ago; ";
  switch (qemu) {
    case QemuState::kRunning:
      text += "its QEMU is running";
      break;
    case QemuState::kNotRunning:
      text += "its QEMU is not running, but a start may be in progress (the claim goes stale " +
              Seconds(grace) + " after it was taken)";
      break;
    case QemuState::kUnknown:
      text += "whether its QEMU runs cannot be told, so the claim is kept";
      break;
  }
  return text;
}

}  // namespace

bool IsStaleClaim(seconds age, seconds grace, QemuState owner_qemu) {
  return owner_qemu == QemuState::kNotRunning && age > grace;
}

std::string ClaimToText(const Claim& claim) {
  const nlohmann::ordered_json json = {
      {"version", kFormatVersion},
      {"namespace", claim.key},
      {"owner_uuid", claim.owner.uuid},
      {"owner_name", claim.owner.name},
      {"taken", std::chrono::duration_cast<seconds>(claim.taken.time_since_epoch()).count()}};
  // replace: a name that is not UTF-8 must not make dump() throw.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<Claim> ClaimFromText(std::string_view text, std::string_view key) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return Fail(ErrorKind::kInvalidInput, "not JSON");
  const auto field = [&](const char* name) -> const nlohmann::json* {
    const auto it = json.find(name);
    return it == json.end() ? nullptr : &*it;
  };
  const auto* version = field("version");
  if (version == nullptr || !version->is_number_integer() ||
      version->get<std::int64_t>() != kFormatVersion) {
    return Fail(ErrorKind::kInvalidInput, "missing or unknown \"version\"");
  }
  Claim claim;
  const auto* ns = field("namespace");
  if (ns == nullptr || !ns->is_string() || ns->get_ref<const std::string&>() != key) {
    return Fail(ErrorKind::kInvalidInput, "\"namespace\" does not match the file name");
  }
  claim.key = std::string(key);
  const auto* uuid = field("owner_uuid");
  if (uuid == nullptr || !uuid->is_string() || !IsValidUuid(uuid->get_ref<const std::string&>())) {
    return Fail(ErrorKind::kInvalidInput, "missing or bad \"owner_uuid\"");
  }
  claim.owner.uuid = NormalizeUuid(uuid->get_ref<const std::string&>());
  const auto* name = field("owner_name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return Fail(ErrorKind::kInvalidInput, "missing or bad \"owner_name\"");
  }
  claim.owner.name = name->get<std::string>();
  const auto* taken = field("taken");
  const auto taken_seconds = taken == nullptr ? std::nullopt : JsonSeconds(*taken);
  if (!taken_seconds) return Fail(ErrorKind::kInvalidInput, "missing or bad \"taken\"");
  claim.taken = system_clock::time_point(seconds(*taken_seconds));
  return claim;
}

ClaimStore::ClaimStore(std::string run_dir, seconds grace,
                       std::shared_ptr<const OwnerLiveness> liveness,
                       std::shared_ptr<const Clock> clock)
    : run_dir_(std::move(run_dir)),
      grace_(grace),
      liveness_(std::move(liveness)),
      clock_(std::move(clock)) {}

ClaimStore ClaimStore::FromConfig(const HookConfig& config) {
  return ClaimStore(config.run_dir, config.claim_grace,
                    std::make_shared<LibvirtPidFileLiveness>(config.libvirt_run_dirs));
}

seconds ClaimStore::AgeOf(const Claim& claim) const {
  const auto age = std::chrono::duration_cast<seconds>(clock_->Now() - claim.taken);
  return age < seconds(0) ? seconds(0) : age;
}

Result<ClaimResult> ClaimStore::ClaimAll(const ClaimOwner& owner,
                                         const std::vector<std::string>& keys) const {
  if (!IsValidUuid(owner.uuid)) {
    return Fail(ErrorKind::kInvalidInput, "bad domain uuid '" + owner.uuid + "'");
  }
  if (owner.name.empty()) return Fail(ErrorKind::kInvalidInput, "empty domain name");
  const std::string uuid = NormalizeUuid(owner.uuid);
  std::vector<std::string> wanted;
  std::set<std::string> seen;
  for (const std::string& key : keys) {
    if (!IsValidNamespaceKey(key)) {
      return Fail(
          ErrorKind::kInvalidInput,
          "namespace key '" + key + "' is not usable as a claim (1 to 64 of [0-9A-Za-z.-])");
    }
    if (seen.insert(key).second) wanted.push_back(key);
  }
  // Nothing to hold: touch no state (a broken run dir must not matter then).
  if (wanted.empty()) return ClaimResult{};

  auto run = PrivateDir::Open(run_dir_, PrivateDir::Create::kYes);
  if (!run) return std::unexpected(run.error());
  auto lock = DirLock::Acquire(*run, kLockFile);
  if (!lock) return std::unexpected(lock.error());
  auto claims = run->Subdir(kClaimsDir, PrivateDir::Create::kYes);
  if (!claims) return std::unexpected(claims.error());
  // Left by a writer killed before its rename; we hold the lock, so no live
  // writer owns them.
  if (auto cleaned = claims->RemoveTempFiles(); !cleaned) return std::unexpected(cleaned.error());

  const auto now = std::chrono::time_point_cast<seconds>(clock_->Now());
  struct Pending {
    std::string key;
    std::optional<std::string> previous;  // the file we replace, for a rollback
  };
  std::vector<Pending> pending;
  std::vector<std::string> conflicts;
  ClaimResult result;
  for (const std::string& key : wanted) {
    auto text = claims->ReadFile(key, kMaxClaimFile);
    if (!text) return std::unexpected(text.error());
    if (!*text) {
      result.claimed.push_back(key);
      pending.push_back({key, std::nullopt});
      continue;
    }
    auto existing = ClaimFromText(**text, key);
    if (!existing) {
      // Only someone other than this code writes such a file; its owner is
      // unknown, so it cannot be proven free.
      return Fail(ErrorKind::kSystem,
                  claims->path() + "/" + key + " is unreadable (" + existing.error().message +
                      "); remove it if no running domain uses namespace " + key);
    }
    if (existing->owner.uuid == uuid) {
      result.renewed.push_back(key);
      pending.push_back({key, std::move(**text)});
      continue;
    }
    const seconds age = AgeOf(*existing);
    const QemuState qemu = liveness_->QemuOf(existing->owner.name);
    if (IsStaleClaim(age, grace_, qemu)) {
      result.taken_over.push_back({*existing, age});
      pending.push_back({key, std::move(**text)});
      continue;
    }
    conflicts.push_back(DescribeConflict(*existing, age, grace_, qemu));
  }
  if (!conflicts.empty()) {
    std::string message;
    for (const std::string& conflict : conflicts) {
      if (!message.empty()) message += "; ";
      message += conflict;
    }
    return Fail(ErrorKind::kConflict, message);
  }

  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Claim claim{pending[i].key, {uuid, owner.name}, now};
    auto written = claims->WriteAtomically(claim.key, ClaimToText(claim));
    if (written) continue;
    // All or none also when the disk fails half way: put back what was there.
    for (std::size_t j = 0; j < i; ++j) {
      if (pending[j].previous) {
        (void)claims->WriteAtomically(pending[j].key, *pending[j].previous);
      } else {
        (void)claims->RemoveFile(pending[j].key);
      }
    }
    return std::unexpected(written.error());
  }
  return result;
}

Result<std::vector<std::string>> ClaimStore::ReleaseAll(std::string_view owner_uuid) const {
  if (!IsValidUuid(owner_uuid)) {
    return Fail(ErrorKind::kInvalidInput, "bad domain uuid '" + std::string(owner_uuid) + "'");
  }
  const std::string uuid = NormalizeUuid(owner_uuid);
  std::vector<std::string> released;
  auto run = PrivateDir::Open(run_dir_, PrivateDir::Create::kNo);
  if (!run) {
    if (Missing(run.error())) return released;
    return std::unexpected(run.error());
  }
  auto lock = DirLock::Acquire(*run, kLockFile);
  if (!lock) return std::unexpected(lock.error());
  auto claims = run->Subdir(kClaimsDir, PrivateDir::Create::kNo);
  if (!claims) {
    if (Missing(claims.error())) return released;
    return std::unexpected(claims.error());
  }
  if (auto cleaned = claims->RemoveTempFiles(); !cleaned) return std::unexpected(cleaned.error());
  auto names = claims->FileNames();
  if (!names) return std::unexpected(names.error());
  for (const std::string& key : *names) {
    if (!IsValidNamespaceKey(key)) continue;
    auto text = claims->ReadFile(key, kMaxClaimFile);
    if (!text) return std::unexpected(text.error());
    if (!*text) continue;
    auto claim = ClaimFromText(**text, key);
    if (!claim || claim->owner.uuid != uuid) continue;
    auto removed = claims->RemoveFile(key);
    if (!removed) return std::unexpected(removed.error());
    released.push_back(key);
  }
  return released;
}

Result<std::vector<ClaimStatus>> ClaimStore::List() const {
  std::vector<ClaimStatus> out;
  auto run = PrivateDir::Open(run_dir_, PrivateDir::Create::kNo);
  if (!run) {
    if (Missing(run.error())) return out;
    return std::unexpected(run.error());
  }
  auto claims = run->Subdir(kClaimsDir, PrivateDir::Create::kNo);
  if (!claims) {
    if (Missing(claims.error())) return out;
    return std::unexpected(claims.error());
  }
  auto names = claims->FileNames();
  if (!names) return std::unexpected(names.error());
  for (const std::string& key : *names) {
    ClaimStatus status;
    status.key = key;
    if (!IsValidNamespaceKey(key)) {
      status.problem = "not a claim file name";
      out.push_back(std::move(status));
      continue;
    }
    auto text = claims->ReadFile(key, kMaxClaimFile);
    if (!text) {
      status.problem = text.error().message;
      out.push_back(std::move(status));
      continue;
    }
    if (!*text) continue;  // released since the listing
    auto claim = ClaimFromText(**text, key);
    if (!claim) {
      status.problem = claim.error().message;
    } else {
      status.age = AgeOf(*claim);
      status.owner_qemu = liveness_->QemuOf(claim->owner.name);
      status.stale = IsStaleClaim(status.age, grace_, status.owner_qemu);
      status.claim = std::move(*claim);
    }
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace nvh
