#include "state/layout_store.h"

#include <algorithm>
#include <cstddef>
#include <limits>

#include "state/atomic_file.h"
#include "state/state_names.h"
#include "util/bytes.h"

namespace nvh {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr char kLayoutsDir[] = "layouts";
constexpr char kLockFile[] = "layouts.lock";
constexpr int kFormatVersion = 1;
// A record is about 400 bytes per device.
constexpr std::size_t kMaxLayoutFile = 1 << 20;

std::string FileName(std::string_view uuid) {
  return NormalizeUuid(uuid) + ".json";
}

Result<void> CheckUuid(std::string_view uuid) {
  if (IsValidUuid(uuid)) return {};
  return Fail(ErrorKind::kInvalidInput, "bad domain uuid '" + std::string(uuid) + "'");
}

// ---- JSON ----------------------------------------------------------------

class Reader {
 public:
  Reader(const nlohmann::json& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  Result<std::string> String(const char* name) const {
    const auto* v = Find(name);
    if (v == nullptr || !v->is_string()) return Bad(name, "a string");
    return v->get<std::string>();
  }
  Result<std::uint64_t> Unsigned(const char* name) const {
    const auto* v = Find(name);
    if (v == nullptr || !v->is_number_unsigned()) return Bad(name, "a byte count");
    return v->get<std::uint64_t>();
  }
  Result<std::int64_t> Integer(const char* name) const {
    const auto* v = Find(name);
    if (v == nullptr || !v->is_number_integer()) return Bad(name, "an integer");
    if (v->is_number_unsigned() &&
        v->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Bad(name, "an integer");
    }
    return v->get<std::int64_t>();
  }
  Result<bool> Bool(const char* name) const {
    const auto* v = Find(name);
    if (v == nullptr || !v->is_boolean()) return Bad(name, "true or false");
    return v->get<bool>();
  }

 private:
  const nlohmann::json* Find(const char* name) const {
    const auto it = object_.find(name);
    return it == object_.end() ? nullptr : &*it;
  }
  std::unexpected<Error> Bad(const char* name, const char* what) const {
    return Fail(ErrorKind::kInvalidInput, where_ + "\"" + name + "\" is missing or not " + what);
  }

  const nlohmann::json& object_;
  std::string where_;
};

// Unwraps a Result into `target` or returns its error from the enclosing
// function: the JSON reader has a dozen fields and nothing else to do.
#define NVH_ASSIGN(target, expression)                         \
  do {                                                         \
    auto nvh_value = (expression);                             \
    if (!nvh_value) return std::unexpected(nvh_value.error()); \
    (target) = std::move(*nvh_value);                          \
  } while (false)

Result<LayoutDevice> DeviceFromJson(const nlohmann::json& json, std::size_t index) {
  const std::string where = "devices[" + std::to_string(index) + "]: ";
  if (!json.is_object()) return Fail(ErrorKind::kInvalidInput, where + "not an object");
  const Reader in(json, where);
  LayoutDevice d;
  NVH_ASSIGN(d.key, in.String("key"));
  NVH_ASSIGN(d.uuid, in.String("uuid"));
  NVH_ASSIGN(d.raw_uuid, in.String("raw_uuid"));
  NVH_ASSIGN(d.dev, in.String("dev"));
  std::string mode;
  NVH_ASSIGN(mode, in.String("mode"));
  const auto parsed_mode = ParseMode(mode);
  if (!parsed_mode) return Fail(ErrorKind::kInvalidInput, where + "unknown mode '" + mode + "'");
  d.mode = *parsed_mode;
  NVH_ASSIGN(d.size, in.Unsigned("size"));
  NVH_ASSIGN(d.align, in.Unsigned("align"));
  NVH_ASSIGN(d.path, in.String("path"));
  NVH_ASSIGN(d.layout.target_size, in.Unsigned("target_size"));
  NVH_ASSIGN(d.layout.label_size, in.Unsigned("label_size"));
  NVH_ASSIGN(d.layout.align_size, in.Unsigned("align_size"));
  NVH_ASSIGN(d.layout.guest_size, in.Unsigned("guest_size"));
  NVH_ASSIGN(d.layout.pmem, in.Bool("pmem"));
  std::int64_t node = 0;
  NVH_ASSIGN(node, in.Integer("node"));
  if (node < 0 || node > std::numeric_limits<int>::max()) {
    return Fail(ErrorKind::kInvalidInput, where + "\"node\" out of range");
  }
  d.node = static_cast<int>(node);
  // QEMU: G = alignDown(S - L, A) <= S - L. A record that breaks it was not
  // written by us, and comparing offsets with it would be meaningless.
  if (d.layout.label_size > d.layout.target_size ||
      d.layout.guest_size > d.layout.target_size - d.layout.label_size) {
    return Fail(ErrorKind::kInvalidInput, where + "guest_size + label_size exceed target_size");
  }
  return d;
}

// ---- comparison -------------------------------------------------------------

std::string Change(std::uint64_t from, std::uint64_t to) {
  return FormatSize(from) + " -> " + FormatSize(to);
}

// The label area is the last L bytes of the target (QEMU
// nvdimm_prepare_memory_region): it starts at S - L.
std::string LabelOffset(const Layout& layout) {
  return FormatSize(layout.target_size) + " - " + FormatSize(layout.label_size);
}

std::string Name(const LayoutDevice& d) {
  std::string name = d.dev.empty() ? d.key : d.dev;
  if (!d.path.empty()) name += " (" + d.path + ")";
  return name;
}

std::string JoinClauses(const std::vector<std::string>& clauses, const char* separator) {
  std::string out;
  for (const std::string& clause : clauses) {
    if (!out.empty()) out += separator;
    out += clause;
  }
  return out;
}

// What a layout change does to the data, knowing guest offset 0 is backing
// offset 0 in both layouts: the data area never shifts, only its end (G) and
// the label area (the last L bytes of S) can move.
}  // namespace

std::string DescribeLayoutMove(const Layout& o, const Layout& n) {
  std::vector<std::string> clauses;
  if (n.guest_size > o.guest_size) {
    clauses.push_back("guest size " + Change(o.guest_size, n.guest_size) +
                      "; existing data stays at the same offsets and the guest sees " +
                      FormatSize(n.guest_size - o.guest_size) + " more");
  } else if (n.guest_size < o.guest_size) {
    clauses.push_back("guest size " + Change(o.guest_size, n.guest_size) +
                      "; the guest loses its last " + FormatSize(o.guest_size - n.guest_size) +
                      " (guest offsets " + FormatSize(n.guest_size) + " to " +
                      FormatSize(o.guest_size) +
                      "): data written there is cut off and a guest namespace reaching past " +
                      FormatSize(n.guest_size) + " no longer fits");
  } else {
    clauses.push_back("guest size stays " + FormatSize(n.guest_size) +
                      " and existing data stays at the same offsets");
  }

  const std::uint64_t old_start = o.target_size - o.label_size;
  const std::uint64_t new_start = n.target_size - n.label_size;
  if (old_start != new_start) {
    clauses.push_back("its label area moves from offset " + LabelOffset(o) + " to " +
                      LabelOffset(n) + " (the guest's namespace labels are lost unless moved)");
  } else if (n.label_size > o.label_size) {
    clauses.push_back("its label area stays at offset " + LabelOffset(o) + " and grows " +
                      Change(o.label_size, n.label_size) + " (existing labels stay readable)");
  } else if (n.label_size < o.label_size) {
    clauses.push_back("its label area stays at offset " + LabelOffset(o) + " but shrinks " +
                      Change(o.label_size, n.label_size) +
                      " (labels in the cut-off part are lost)");
  }
  // The new label area may lie where the guest had data: the guest would
  // then parse its data as labels, and its next label update overwrite it.
  if (new_start < o.guest_size) {
    const std::uint64_t end = std::min(n.target_size, o.guest_size);
    clauses.push_back("the new label area (offsets " + LabelOffset(n) + " to " + FormatSize(end) +
                      ") lies where the guest may have data: that data would be read as labels "
                      "and overwritten by label updates");
  }

  std::vector<std::string> numbers;
  if (o.target_size != n.target_size)
    numbers.push_back("target " + Change(o.target_size, n.target_size));
  if (o.label_size != n.label_size)
    numbers.push_back("label " + Change(o.label_size, n.label_size));
  if (o.align_size != n.align_size)
    numbers.push_back("alignment " + Change(o.align_size, n.align_size));
  std::string text = JoinClauses(clauses, "; ");
  if (!numbers.empty()) text += " (" + JoinClauses(numbers, ", ") + ")";
  return text;
}

namespace {

// data_only: only what moves or destroys the guest's data (identity and
// layout changes), not renames, new nodes or <pmem/>.
void ComparePair(const LayoutDevice& o, const LayoutDevice& n, bool data_only,
                 std::vector<std::string>& out) {
  const std::string name = Name(n);

  std::vector<std::string> identity;
  if (o.key != n.key) {
    const bool uuids = !o.uuid.empty() && !n.uuid.empty();
    identity.push_back(std::string(uuids ? "namespace uuid" : "namespace identity") +
                       " changed from " + (uuids ? o.uuid : o.key) + " to " +
                       (uuids ? n.uuid : n.key));
  }
  if (o.mode != n.mode) {
    identity.push_back("mode changed from " + std::string(ModeName(o.mode)) + " to " +
                       std::string(ModeName(n.mode)));
  }
  const bool reconfigured = !identity.empty();
  if (reconfigured) {
    out.push_back(name + ": " + JoinClauses(identity, " and ") +
                  " (the namespace was re-created or reconfigured on the host: the data the "
                  "guest wrote is gone)");
  }
  if (data_only) {
    const bool moved = o.layout.target_size != n.layout.target_size ||
                       o.layout.label_size != n.layout.label_size ||
                       o.layout.align_size != n.layout.align_size ||
                       o.layout.guest_size != n.layout.guest_size;
    if (moved && !reconfigured) {
      out.push_back(name + ": layout changed: " + DescribeLayoutMove(o.layout, n.layout));
    }
    return;
  }
  if (o.dev != n.dev && !reconfigured) {
    out.push_back(name + ": ndctl name changed from " + o.dev + " to " + n.dev +
                  " (same namespace; data unaffected)");
  }
  if (o.path != n.path) {
    out.push_back(name + ": device node changed from " + o.path + " to " + n.path +
                  (reconfigured ? "" : " (same namespace; data unaffected)") +
                  "; the domain's <source><path> must follow");
  }

  std::vector<std::string> causes;
  if (o.size != n.size) causes.push_back("namespace size " + Change(o.size, n.size));
  if (o.align != n.align) causes.push_back("device alignment " + Change(o.align, n.align));
  const std::string cause = JoinClauses(causes, ", ");
  const bool layout_changed =
      o.layout.target_size != n.layout.target_size || o.layout.label_size != n.layout.label_size ||
      o.layout.align_size != n.layout.align_size || o.layout.guest_size != n.layout.guest_size;
  if (layout_changed && reconfigured) {
    // The old data is gone anyway; offsets of what no longer exists do not
    // help anyone.
    out.push_back(name + ": " + (cause.empty() ? "" : cause + "; ") + "new layout: target " +
                  Change(o.layout.target_size, n.layout.target_size) + ", guest size " +
                  Change(o.layout.guest_size, n.layout.guest_size));
  } else if (layout_changed) {
    out.push_back(name + ": " + (cause.empty() ? "computed layout changed" : cause) + ": " +
                  DescribeLayoutMove(o.layout, n.layout));
  } else if (!cause.empty() && !reconfigured) {
    out.push_back(name + ": " + cause + "; the computed layout is unchanged (target " +
                  FormatSize(n.layout.target_size) + ", guest size " +
                  FormatSize(n.layout.guest_size) + "): data and labels stay where they are");
  }

  if (o.node != n.node) {
    out.push_back(name + ": guest NUMA node " + std::to_string(o.node) + " -> " +
                  std::to_string(n.node) +
                  " (the device moves to another guest node; data "
                  "unaffected)");
  }
  if (o.layout.pmem != n.layout.pmem) {
    out.push_back(name + (n.layout.pmem
                              ? ": <pmem/> added: guest stores now reach the media directly (DAX)"
                              : ": <pmem/> dropped: guest stores reach the media only when the "
                                "host writes its page cache back"));
  }
}

}  // namespace

LayoutRecord RecordFromPlan(const Plan& plan, std::string_view domain_uuid,
                            std::string_view domain_name, system_clock::time_point recorded) {
  LayoutRecord record;
  record.domain_uuid = NormalizeUuid(domain_uuid);
  record.domain_name = std::string(domain_name);
  record.recorded = std::chrono::time_point_cast<seconds>(recorded);
  for (const PlannedDevice& planned : plan.devices) {
    const HostNamespace& ns = planned.host;
    record.devices.push_back(LayoutDevice{.key = ns.IdentityKey(),
                                          .uuid = ns.uuid,
                                          .raw_uuid = ns.raw_uuid,
                                          .dev = ns.dev,
                                          .mode = ns.mode,
                                          .size = ns.size,
                                          .align = ns.align,
                                          .path = planned.path,
                                          .layout = planned.layout,
                                          .node = planned.node});
  }
  return record;
}

std::vector<RecordedLayout> RecordedLayouts(const LayoutRecord& record) {
  std::vector<RecordedLayout> out;
  for (const LayoutDevice& d : record.devices) out.push_back({d.key, d.layout, d.path});
  return out;
}

namespace {

std::vector<std::string> Compare(const LayoutRecord& old_record, const LayoutRecord& now,
                                 bool data_only) {
  const auto& olds = old_record.devices;
  const auto& news = now.devices;
  std::vector<std::optional<std::size_t>> partner(news.size());
  std::vector<bool> used(olds.size(), false);
  const auto pair_by = [&](auto field) {
    for (std::size_t j = 0; j < news.size(); ++j) {
      if (partner[j] || field(news[j]).empty()) continue;
      for (std::size_t i = 0; i < olds.size(); ++i) {
        if (!used[i] && field(olds[i]) == field(news[j])) {
          partner[j] = i;
          used[i] = true;
          break;
        }
      }
    }
  };
  pair_by([](const LayoutDevice& d) -> const std::string& { return d.key; });
  pair_by([](const LayoutDevice& d) -> const std::string& { return d.dev; });
  pair_by([](const LayoutDevice& d) -> const std::string& { return d.path; });

  std::vector<std::string> out;
  for (std::size_t j = 0; j < news.size(); ++j) {
    if (partner[j]) {
      ComparePair(olds[*partner[j]], news[j], data_only, out);
    } else if (!data_only) {
      out.push_back(Name(news[j]) + ": new in the domain: the guest gets an NVDIMM of " +
                    FormatSize(news[j].layout.guest_size) +
                    " holding whatever the host namespace holds");
    }
  }
  for (std::size_t i = 0; i < olds.size(); ++i) {
    if (used[i] || data_only) continue;
    out.push_back(Name(olds[i]) + ": no longer in the domain: the guest loses this NVDIMM of " +
                  FormatSize(olds[i].layout.guest_size) +
                  " (its data stays on the host namespace, untouched)");
  }
  return out;
}

}  // namespace

std::vector<std::string> CompareLayouts(const LayoutRecord& old_record, const LayoutRecord& now) {
  return Compare(old_record, now, /*data_only=*/false);
}

std::vector<std::string> DataMoves(const LayoutRecord& old_record, const LayoutRecord& now) {
  return Compare(old_record, now, /*data_only=*/true);
}

nlohmann::ordered_json LayoutRecordToJson(const LayoutRecord& record) {
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const LayoutDevice& d : record.devices) {
    devices.push_back({{"key", d.key},
                       {"uuid", d.uuid},
                       {"raw_uuid", d.raw_uuid},
                       {"dev", d.dev},
                       {"mode", std::string(ModeName(d.mode))},
                       {"size", d.size},
                       {"align", d.align},
                       {"path", d.path},
                       {"target_size", d.layout.target_size},
                       {"label_size", d.layout.label_size},
                       {"align_size", d.layout.align_size},
                       {"guest_size", d.layout.guest_size},
                       {"pmem", d.layout.pmem},
                       {"node", d.node}});
  }
  return {
      {"version", kFormatVersion},
      {"domain_uuid", record.domain_uuid},
      {"domain_name", record.domain_name},
      {"recorded", std::chrono::duration_cast<seconds>(record.recorded.time_since_epoch()).count()},
      {"devices", std::move(devices)}};
}

Result<LayoutRecord> LayoutRecordFromJson(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return Fail(ErrorKind::kInvalidInput, "not JSON");
  const Reader in(json, "");
  std::int64_t version = 0;
  NVH_ASSIGN(version, in.Integer("version"));
  if (version != kFormatVersion) {
    return Fail(ErrorKind::kInvalidInput, "unknown format version " + std::to_string(version));
  }
  LayoutRecord record;
  NVH_ASSIGN(record.domain_uuid, in.String("domain_uuid"));
  if (!IsValidUuid(record.domain_uuid)) {
    return Fail(ErrorKind::kInvalidInput, "\"domain_uuid\" is not a uuid");
  }
  record.domain_uuid = NormalizeUuid(record.domain_uuid);
  NVH_ASSIGN(record.domain_name, in.String("domain_name"));
  std::int64_t recorded = 0;
  NVH_ASSIGN(recorded, in.Integer("recorded"));
  record.recorded = system_clock::time_point(seconds(recorded));
  const auto devices = json.find("devices");
  if (devices == json.end() || !devices->is_array()) {
    return Fail(ErrorKind::kInvalidInput, "\"devices\" is missing or not an array");
  }
  for (std::size_t i = 0; i < devices->size(); ++i) {
    auto device = DeviceFromJson((*devices)[i], i);
    if (!device) return std::unexpected(device.error());
    record.devices.push_back(std::move(*device));
  }
  return record;
}

#undef NVH_ASSIGN

Result<void> LayoutStore::Save(std::string_view domain_uuid, const LayoutRecord& record) const {
  if (auto ok = CheckUuid(domain_uuid); !ok) return ok;
  LayoutRecord stored = record;
  if (stored.domain_uuid.empty()) stored.domain_uuid = NormalizeUuid(domain_uuid);
  if (NormalizeUuid(stored.domain_uuid) != NormalizeUuid(domain_uuid)) {
    return Fail(ErrorKind::kInvalidInput, "layout record of domain " + stored.domain_uuid +
                                              " saved as " + std::string(domain_uuid));
  }
  stored.domain_uuid = NormalizeUuid(domain_uuid);
  auto state = PrivateDir::Open(state_dir_, PrivateDir::Create::kYes);
  if (!state) return std::unexpected(state.error());
  auto lock = DirLock::Acquire(*state, kLockFile);
  if (!lock) return std::unexpected(lock.error());
  auto layouts = state->Subdir(kLayoutsDir, PrivateDir::Create::kYes);
  if (!layouts) return std::unexpected(layouts.error());
  if (auto cleaned = layouts->RemoveTempFiles(); !cleaned) return std::unexpected(cleaned.error());
  const std::string text =
      LayoutRecordToJson(stored).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  return layouts->WriteAtomically(FileName(domain_uuid), text);
}

Result<std::optional<LayoutRecord>> LayoutStore::Load(std::string_view domain_uuid) const {
  if (auto ok = CheckUuid(domain_uuid); !ok) return std::unexpected(ok.error());
  auto state = PrivateDir::Open(state_dir_, PrivateDir::Create::kNo);
  if (!state) {
    if (state.error().kind == ErrorKind::kNotFound) return std::optional<LayoutRecord>();
    return std::unexpected(state.error());
  }
  auto layouts = state->Subdir(kLayoutsDir, PrivateDir::Create::kNo);
  if (!layouts) {
    if (layouts.error().kind == ErrorKind::kNotFound) return std::optional<LayoutRecord>();
    return std::unexpected(layouts.error());
  }
  const std::string name = FileName(domain_uuid);
  auto text = layouts->ReadFile(name, kMaxLayoutFile);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::optional<LayoutRecord>();
  auto record = LayoutRecordFromJson(**text);
  if (!record)
    return std::unexpected(WithContext(record.error(), layouts->path() + "/" + name + ": "));
  if (record->domain_uuid != NormalizeUuid(domain_uuid)) {
    return Fail(ErrorKind::kInvalidInput,
                layouts->path() + "/" + name + ": records domain " + record->domain_uuid);
  }
  return std::optional<LayoutRecord>(std::move(*record));
}

Result<bool> LayoutStore::Remove(std::string_view domain_uuid) const {
  if (auto ok = CheckUuid(domain_uuid); !ok) return std::unexpected(ok.error());
  auto state = PrivateDir::Open(state_dir_, PrivateDir::Create::kNo);
  if (!state) {
    if (state.error().kind == ErrorKind::kNotFound) return false;
    return std::unexpected(state.error());
  }
  auto lock = DirLock::Acquire(*state, kLockFile);
  if (!lock) return std::unexpected(lock.error());
  auto layouts = state->Subdir(kLayoutsDir, PrivateDir::Create::kNo);
  if (!layouts) {
    if (layouts.error().kind == ErrorKind::kNotFound) return false;
    return std::unexpected(layouts.error());
  }
  return layouts->RemoveFile(FileName(domain_uuid));
}

Result<std::vector<LayoutEntry>> LayoutStore::List() const {
  std::vector<LayoutEntry> out;
  auto state = PrivateDir::Open(state_dir_, PrivateDir::Create::kNo);
  if (!state) {
    if (state.error().kind == ErrorKind::kNotFound) return out;
    return std::unexpected(state.error());
  }
  auto layouts = state->Subdir(kLayoutsDir, PrivateDir::Create::kNo);
  if (!layouts) {
    if (layouts.error().kind == ErrorKind::kNotFound) return out;
    return std::unexpected(layouts.error());
  }
  auto names = layouts->FileNames();
  if (!names) return std::unexpected(names.error());
  for (const std::string& name : *names) {
    LayoutEntry entry;
    const std::string_view stem =
        std::string_view(name).substr(0, name.ends_with(".json") ? name.size() - 5 : name.size());
    entry.domain_uuid = std::string(stem);
    if (!name.ends_with(".json") || !IsValidUuid(stem)) {
      entry.problem = "not a layout file name";
      out.push_back(std::move(entry));
      continue;
    }
    auto text = layouts->ReadFile(name, kMaxLayoutFile);
    if (text && !*text) continue;  // removed since the listing
    if (!text) {
      entry.problem = text.error().message;
    } else if (auto record = LayoutRecordFromJson(**text); !record) {
      entry.problem = record.error().message;
    } else if (record->domain_uuid != NormalizeUuid(stem)) {
      entry.problem = "records domain " + record->domain_uuid;
    } else {
      entry.record = std::move(*record);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace nvh
