#include "ndctl/json_inventory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "util/bytes.h"

namespace nvh {
namespace {

using Json = nlohmann::json;

// bus -> regions -> namespaces is as deep as `ndctl list` nests (ndctl/list.c
// filter_bus/filter_region/filter_namespace).
constexpr int kMaxContainerDepth = 2;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error Invalid(std::string message) {
  return Error{ErrorKind::kInvalidInput, std::move(message)};
}

Result<std::string> ReadFile(const std::string& path) {
  // O_NOCTTY: the path is admin input and could name a terminal.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    return std::unexpected(Invalid(path + ": cannot open: " + std::strerror(err)));
  }
  std::string text;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return std::unexpected(Invalid(path + ": cannot read: " + std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    // Checked while reading, not from st_size, so a pipe cannot feed us forever.
    if (text.size() > JsonInventory::kMaxFileSize) {
      return std::unexpected(Invalid(path + ": larger than " +
                                     FormatSize(JsonInventory::kMaxFileSize) +
                                     ", not the output of ndctl list"));
    }
  }
  return text;
}

// Only to learn where the text stops being JSON: parse(…, false) says that it
// failed, not where.
class ErrorPositionSax : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    message_ = ex.what();
    // "[json.exception.parse_error.101] parse error at line …": the bracket
    // is the library's id, not something the admin can act on.
    if (const auto end = message_.find("] "); message_.starts_with("[") && end != message_.npos) {
      message_.erase(0, end + 2);
    }
    return false;
  }

  std::size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  std::size_t position_ = 0;
  std::string message_ = "not JSON";
};

Result<Json> ParseJson(const std::string& path, const std::string& text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_discarded()) return json;
  ErrorPositionSax sax;
  Json::sax_parse(text, &sax);
  return std::unexpected(Invalid(path + ": malformed JSON at byte " +
                                 std::to_string(sax.position()) + ": " + sax.message()));
}

// A value as it appears in the file, short enough for one message line.
std::string Show(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// A name that becomes part of a path (device node) or of a state file name
// (IdentityKey falls back to dev): a file that could make it "../x" would
// let the inventory point the hook outside the device directory.
bool IsPlainName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (const char c : name) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// ndctl prints uuids with uuid_unparse (ndctl/json.c util_namespace_to_json):
// 8-4-4-4-12 hex digits, lower case.
std::optional<std::string> CanonicalUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return out;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Where a namespace came from, for messages: its dev once known, else its
// place in the document as a JSON pointer.
struct Context {
  const std::string& file;
  std::string what;

  std::unexpected<Error> Fail(const std::string& message) const {
    return std::unexpected(Invalid(file + ": " + what + ": " + message));
  }
};

Result<std::optional<std::string>> GetString(const Context& ctx, const Json& object,
                                             const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (!it->is_string()) {
    return ctx.Fail(std::string("\"") + key + "\" is " + Show(*it) + ", expected a string");
  }
  return it->get<std::string>();
}

Result<std::optional<std::uint64_t>> GetBytes(const Context& ctx, const Json& object,
                                              const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  const std::string shown = std::string("\"") + key + "\" is " + Show(*it);
  if (it->is_number_integer()) return ctx.Fail(shown + ": a byte count cannot be negative");
  if (it->is_string()) {
    // util_json_object_size prints "502.00 MiB (526.39 MB)" under -u: rounded.
    return ctx.Fail(shown + ", expected a number of bytes (list without -u)");
  }
  return ctx.Fail(shown + ", expected a whole number of bytes");
}

Result<std::optional<int>> GetNode(const Context& ctx, const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() <= INT_MAX) {
    return static_cast<int>(it->get<std::uint64_t>());
  }
  if (it->is_number_integer() && !it->is_number_unsigned() && it->get<std::int64_t>() == -1) {
    return -1;
  }
  return ctx.Fail(std::string("\"") + key + "\" is " + Show(*it) + ", expected a NUMA node");
}

Result<std::optional<std::string>> GetDeviceName(const Context& ctx, const Json& object,
                                                 const char* key) {
  auto name = GetString(ctx, object, key);
  if (!name || !*name) return name;
  if (!IsPlainName(**name)) {
    return ctx.Fail(std::string("\"") + key + "\" is " + Show(object[key]) +
                    ", expected a device name in the device directory");
  }
  return name;
}

Result<std::string> GetUuid(const Context& ctx, const Json& object, const char* key) {
  auto text = GetString(ctx, object, key);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::string();
  const auto uuid = CanonicalUuid(**text);
  if (!uuid) {
    return ctx.Fail(std::string("\"") + key + "\" is " + Show(object[key]) + ", not a UUID");
  }
  // ndctl leaves a null raw_uuid out (util_raw_uuid); a null uuid is no
  // identity either, and would make every such namespace the same one.
  if (*uuid == "00000000-0000-0000-0000-000000000000") return std::string();
  return *uuid;
}

// The dax device behind a devdax namespace, from "daxregion" (ndctl list -v
// or -X: ndctl/json.c → daxctl/json.c util_daxctl_region_to_json).
struct DaxDevice {
  std::string chardev;
  std::uint64_t size = 0;
  bool usable = false;
};

Result<std::optional<DaxDevice>> GetDaxDevice(const Context& ctx, const Json& ns) {
  const auto region = ns.find("daxregion");
  if (region == ns.end()) return std::nullopt;
  if (!region->is_object())
    return ctx.Fail("\"daxregion\" is " + Show(*region) + ", expected an object");
  const auto devices = region->find("devices");
  if (devices == region->end()) return std::nullopt;
  if (!devices->is_array()) {
    return ctx.Fail("\"daxregion\".\"devices\" is " + Show(*devices) + ", expected an array");
  }
  std::vector<DaxDevice> sized;
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const Json& device = (*devices)[i];
    const Context dev_ctx{ctx.file, ctx.what + ": daxregion device " + std::to_string(i)};
    if (!device.is_object()) return dev_ctx.Fail(Show(device) + " is not an object");
    auto chardev = GetDeviceName(dev_ctx, device, "chardev");
    if (!chardev) return std::unexpected(chardev.error());
    if (!*chardev) return dev_ctx.Fail("no \"chardev\"");
    auto size = GetBytes(dev_ctx, device, "size");
    if (!size) return std::unexpected(size.error());
    if (!*size) return dev_ctx.Fail("no \"size\"");
    auto mode = GetString(dev_ctx, device, "mode");
    if (!mode) return std::unexpected(mode.error());
    auto state = GetString(dev_ctx, device, "state");
    if (!state) return std::unexpected(state.error());
    // ndctl -i/-c also lists size-0 seed devices of dynamic dax regions:
    // nothing to map.
    if (**size == 0) continue;
    // "system-ram": bound to kmem, memory the kernel already uses; disabled:
    // no driver. Either way the /dev node does not open (ENXIO).
    const bool usable = (!*mode || **mode == "devdax") && (!*state || **state != "disabled");
    sized.push_back(DaxDevice{**chardev, **size, usable});
  }
  if (sized.empty()) return std::nullopt;
  if (sized.size() > 1) {
    // A pmem namespace's dax region is static with exactly one device
    // (kernel drivers/dax/pmem.c creates one; a static region has no
    // "create"), and libvirt maps one file. Taking the first, as plain
    // `ndctl list` does, could hand a guest part of the namespace; refuse.
    std::string names;
    for (const auto& device : sized) names += (names.empty() ? "" : ", ") + device.chardev;
    return ctx.Fail("its dax region has " + std::to_string(sized.size()) + " dax devices (" +
                    names + "); a namespace must back exactly one");
  }
  return sized.front();
}

// One namespace object, or nothing for the seeds and leftovers ndctl -i/-c
// show: disabled with no size.
Result<std::optional<HostNamespace>> ReadNamespace(const std::string& file,
                                                   const std::string& device_dir, const Json& ns,
                                                   const std::string& where) {
  Context ctx{file, "namespace at " + where};
  if (!ns.is_object()) return ctx.Fail(Show(ns) + " is not an object");
  HostNamespace out;

  auto dev = GetString(ctx, ns, "dev");
  if (!dev) return std::unexpected(dev.error());
  if (!*dev) return ctx.Fail("no \"dev\"");
  if (!IsPlainName(**dev)) return ctx.Fail("\"dev\" is " + Show(ns["dev"]) + ", not a device name");
  out.dev = **dev;
  ctx.what = "namespace '" + out.dev + "'";

  auto state = GetString(ctx, ns, "state");
  if (!state) return std::unexpected(state.error());
  if (*state && **state != "disabled") {
    return ctx.Fail("\"state\" is " + Show(ns["state"]) + ", expected \"disabled\" or none");
  }
  out.enabled = !*state;

  auto size = GetBytes(ctx, ns, "size");
  if (!size) return std::unexpected(size.error());
  if (!out.enabled && (!*size || **size == 0)) return std::nullopt;

  auto mode_text = GetString(ctx, ns, "mode");
  if (!mode_text) return std::unexpected(mode_text.error());
  // ndctl leaves "mode" out when libndctl cannot tell (NDCTL_NS_MODE_UNKNOWN).
  if (!*mode_text) return ctx.Fail("no \"mode\"");
  const auto mode = ParseMode(**mode_text);
  if (!mode) {
    return ctx.Fail("unknown \"mode\" " + Show(ns["mode"]) +
                    " (expected raw, sector, fsdax or devdax)");
  }
  out.mode = *mode;

  if (!*size) return ctx.Fail("no \"size\"");
  if (**size == 0) return ctx.Fail("\"size\" is 0, but the namespace is enabled");
  out.size = **size;

  auto name = GetString(ctx, ns, "name");
  if (!name) return std::unexpected(name.error());
  out.name = name->value_or("");

  auto uuid = GetUuid(ctx, ns, "uuid");
  if (!uuid) return std::unexpected(uuid.error());
  out.uuid = *uuid;
  auto raw_uuid = GetUuid(ctx, ns, "raw_uuid");
  if (!raw_uuid) return std::unexpected(raw_uuid.error());
  out.raw_uuid = *raw_uuid;

  auto align = GetBytes(ctx, ns, "align");
  if (!align) return std::unexpected(align.error());
  out.align = align->value_or(0);

  auto node = GetNode(ctx, ns, "numa_node");
  if (!node) return std::unexpected(node.error());
  out.numa_node = node->value_or(-1);

  auto map = GetString(ctx, ns, "map");
  if (!map) return std::unexpected(map.error());
  if (*map && **map != "dev" && **map != "mem" && **map != "none") {
    return ctx.Fail("\"map\" is " + Show(ns["map"]) + ", expected \"dev\", \"mem\" or \"none\"");
  }
  out.map = map->value_or("");

  auto blockdev = GetDeviceName(ctx, ns, "blockdev");
  if (!blockdev) return std::unexpected(blockdev.error());
  out.blockdev = blockdev->value_or("");

  // Plain `ndctl list` prints the first dax device as "chardev"; -v/-X print
  // the dax region with all of them instead.
  auto chardev = GetDeviceName(ctx, ns, "chardev");
  if (!chardev) return std::unexpected(chardev.error());
  out.chardev = chardev->value_or("");
  bool dax_usable = true;
  if (out.mode == NamespaceMode::kDevdax) {
    auto device = GetDaxDevice(ctx, ns);
    if (!device) return std::unexpected(device.error());
    if (*device) {
      if (!out.chardev.empty() && out.chardev != (*device)->chardev) {
        return ctx.Fail("\"chardev\" " + out.chardev + " is not its dax device " +
                        (*device)->chardev);
      }
      out.chardev = (*device)->chardev;
      // What QEMU reads as the backing size (/sys/dev/char/M:m/size).
      out.size = (*device)->size;
      dax_usable = (*device)->usable;
    }
  }

  if (out.enabled) {
    if (out.mode == NamespaceMode::kDevdax) {
      if (!out.chardev.empty() && dax_usable) out.device_path = JoinPath(device_dir, out.chardev);
    } else if (!out.blockdev.empty()) {
      out.device_path = JoinPath(device_dir, out.blockdev);
    }
  }
  return out;
}

struct Found {
  const Json* object;
  std::string where;  // JSON pointer
};

bool IsContainer(const Json& object) {
  for (const char* key : {"namespaces", "regions", "dimms", "provider"}) {
    if (object.contains(key)) return true;
  }
  // A region or bus without namespaces (ndctl list -R/-B on a region with
  // only seeds) is still not a namespace.
  const auto dev = object.find("dev");
  if (dev == object.end() || !dev->is_string()) return false;
  const auto& name = dev->get_ref<const std::string&>();
  return name.starts_with("region") || name.starts_with("ndbus") || name.starts_with("nmem");
}

Result<void> Collect(const std::string& file, const Json& value, const std::string& where,
                     int depth, std::vector<Found>& found) {
  const auto fail = [&](const std::string& message) {
    return std::unexpected(Invalid(file + ": " + (where.empty() ? "/" : where) + ": " + message));
  };
  if (!value.is_object()) {
    return fail(std::string("is a JSON ") + value.type_name() +
                ", expected a namespace, region or bus object (ndctl list -N)");
  }
  if (!IsContainer(value)) {
    found.push_back(Found{&value, where.empty() ? "/" : where});
    return {};
  }
  if (const auto regions = value.find("regions"); regions != value.end()) {
    if (depth >= kMaxContainerDepth) return fail("\"regions\" nested deeper than bus/region");
    if (!regions->is_array())
      return fail("\"regions\" is " + Show(*regions) + ", expected an array");
    for (std::size_t i = 0; i < regions->size(); ++i) {
      auto ok =
          Collect(file, (*regions)[i], where + "/regions/" + std::to_string(i), depth + 1, found);
      if (!ok) return ok;
    }
  }
  if (const auto namespaces = value.find("namespaces"); namespaces != value.end()) {
    if (!namespaces->is_array()) {
      return fail("\"namespaces\" is " + Show(*namespaces) + ", expected an array");
    }
    for (std::size_t i = 0; i < namespaces->size(); ++i) {
      found.push_back(Found{&(*namespaces)[i], where + "/namespaces/" + std::to_string(i)});
    }
  }
  return {};
}

// Two entries for one namespace, or two namespaces behind one identity or one
// device node, would let one claim cover the other's data.
Result<void> CheckUnique(const std::string& file, const HostNamespaces& namespaces) {
  std::map<std::string, std::string> devs, uuids, raw_uuids, paths;
  const auto check = [&](std::map<std::string, std::string>& seen, const std::string& value,
                         const std::string& dev, const std::string& what) -> Result<void> {
    if (value.empty()) return {};
    const auto [it, inserted] = seen.emplace(value, dev);
    if (inserted) return {};
    if (it->second == dev) {
      return std::unexpected(Invalid(file + ": namespace '" + dev + "' is listed twice"));
    }
    return std::unexpected(Invalid(file + ": namespaces '" + it->second + "' and '" + dev +
                                   "' have the same " + what + " " + value));
  };
  for (const auto& ns : namespaces) {
    for (const auto& [seen, value, what] :
         {std::tuple{&devs, &ns.dev, "dev"}, std::tuple{&uuids, &ns.uuid, "uuid"},
          std::tuple{&raw_uuids, &ns.raw_uuid, "raw_uuid"},
          std::tuple{&paths, &ns.device_path, "device"}}) {
      auto ok = check(*seen, *value, ns.dev, what);
      if (!ok) return ok;
    }
  }
  return {};
}

}  // namespace

JsonInventory::JsonInventory(std::string path, std::string device_dir)
    : path_(std::move(path)), device_dir_(std::move(device_dir)) {}

Result<HostNamespaces> JsonInventory::List() {
  auto text = ReadFile(path_);
  if (!text) return std::unexpected(text.error());
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) return HostNamespaces{};
  auto json = ParseJson(path_, *text);
  if (!json) return std::unexpected(json.error());

  std::vector<Found> found;
  if (json->is_array()) {
    for (std::size_t i = 0; i < json->size(); ++i) {
      auto ok = Collect(path_, (*json)[i], "/" + std::to_string(i), 0, found);
      if (!ok) return std::unexpected(ok.error());
    }
  } else {
    auto ok = Collect(path_, *json, "", 0, found);
    if (!ok) return std::unexpected(ok.error());
  }

  HostNamespaces namespaces;
  for (const auto& [object, where] : found) {
    auto ns = ReadNamespace(path_, device_dir_, *object, where);
    if (!ns) return std::unexpected(ns.error());
    if (*ns) namespaces.push_back(std::move(**ns));
  }
  auto unique = CheckUnique(path_, namespaces);
  if (!unique) return std::unexpected(unique.error());
  return namespaces;
}

}  // namespace nvh
