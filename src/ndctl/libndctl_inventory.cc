#include "ndctl/libndctl_inventory.h"

#include <linux/ndctl.h>  // ND_DEVICE_NAMESPACE_IO (ndctl/ndctl.h needs ndctl's ccan)

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ndctl/libndctl_api.h"

namespace nvh {
namespace {

constexpr char kDeviceDir[] = "/dev/";
constexpr std::size_t kMaxLogText = 2048;

// libndctl and libdaxctl log errors to stderr by default, and a hook's stderr
// reaches the virsh user. Collected here instead, they become part of the
// error that explains a failure.
thread_local std::string* log_sink = nullptr;

class LogCapture {
 public:
  LogCapture() { log_sink = &text_; }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture() { log_sink = nullptr; }
  // " (libndctl: …)" or nothing.
  std::string Suffix() const { return text_.empty() ? "" : " (libndctl: " + text_ + ")"; }

 private:
  std::string text_;
};

void AppendLog(const char* format, va_list args) {
  if (log_sink == nullptr || log_sink->size() >= kMaxLogText) return;
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  if (n <= 0) return;
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  if (!log_sink->empty()) *log_sink += "; ";
  *log_sink += text;
}

void NdctlLog(ndctl_ctx*, int, const char*, int, const char*, const char* format, va_list args) {
  AppendLog(format, args);
}

void DaxctlLog(daxctl_ctx*, int, const char*, int, const char*, const char* format, va_list args) {
  AppendLog(format, args);
}

struct CtxUnref {
  const LibndctlApi* api;
  void operator()(ndctl_ctx* ctx) const { api->ndctl_unref(ctx); }
};
using CtxPtr = std::unique_ptr<ndctl_ctx, CtxUnref>;

// uuid_unparse's format (what ndctl prints), without linking libuuid. The null
// uuid is no identity: ndctl leaves such a raw_uuid out (util_raw_uuid).
std::string FormatUuid(const unsigned char* uu) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool null = true;
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[uu[i] >> 4];
    out += kHex[uu[i] & 0xf];
    null = null && uu[i] == 0;
  }
  return null ? std::string() : out;
}

std::string NamespaceUuid(const LibndctlApi& api, ndctl_namespace* ndns) {
  uuid_t uu;
  api.ndctl_namespace_get_uuid(ndns, uu);
  return FormatUuid(uu);
}

std::string Text(const char* text) {
  return text == nullptr ? std::string() : std::string(text);
}

// The one dax device of a devdax namespace (DESIGN.md §3: D is its size).
struct DaxDevice {
  std::string chardev;
  unsigned long long size = 0;
  bool usable = false;
};

Result<std::optional<DaxDevice>> FindDaxDevice(const LibndctlApi& api, const std::string& dev,
                                               daxctl_region* region, const LogCapture& log) {
  std::vector<DaxDevice> sized;
  for (daxctl_dev* dax_dev = api.daxctl_dev_get_first(region); dax_dev != nullptr;
       dax_dev = api.daxctl_dev_get_next(dax_dev)) {
    const unsigned long long size = api.daxctl_dev_get_size(dax_dev);
    // Size-0 devices are the seeds of dynamic dax regions: nothing to map.
    if (size == 0 || size == ULLONG_MAX) continue;
    // Bound to kmem (system-ram: daxctl_dev_get_memory) or to no driver, the
    // /dev node exists but fails to open (ENXIO).
    const bool usable =
        api.daxctl_dev_is_enabled(dax_dev) != 0 && api.daxctl_dev_get_memory(dax_dev) == nullptr;
    sized.push_back(DaxDevice{Text(api.daxctl_dev_get_devname(dax_dev)), size, usable});
  }
  if (sized.empty()) return std::nullopt;
  if (sized.size() > 1) {
    // A pmem namespace's dax region is static with exactly one device
    // (kernel drivers/dax/pmem.c); ndctl shows the first, but handing that to
    // a guest could give it part of the namespace.
    std::string names;
    for (const auto& device : sized) names += (names.empty() ? "" : ", ") + device.chardev;
    return Fail(ErrorKind::kSystem, "namespace '" + dev + "': its dax region has " +
                                        std::to_string(sized.size()) + " dax devices (" + names +
                                        "); a namespace must back exactly one" + log.Suffix());
  }
  return sized.front();
}

// Mirrors ndctl/json.c util_namespace_to_json (ndctl 76.1) field by field,
// with ndctl list's -v (raw_uuid, numa_node, dax devices) and -c (disabled
// namespaces that have a size) in effect.
Result<std::optional<HostNamespace>> Describe(const LibndctlApi& api, ndctl_namespace* ndns,
                                              const LogCapture& log) {
  HostNamespace out;
  out.dev = Text(api.ndctl_namespace_get_devname(ndns));
  out.enabled = api.ndctl_namespace_is_active(ndns);
  ndctl_btt* btt = api.ndctl_namespace_get_btt(ndns);
  ndctl_pfn* pfn = api.ndctl_namespace_get_pfn(ndns);
  ndctl_dax* dax = api.ndctl_namespace_get_dax(ndns);

  // ndctl_namespace_get_size is the raw size; the usable size comes from the
  // personality device that claims the namespace.
  unsigned long long size = ULLONG_MAX;
  ndctl_pfn_loc location = NDCTL_PFN_LOC_NONE;
  const ndctl_namespace_mode mode = api.ndctl_namespace_get_mode(ndns);
  bool known_mode = true;
  switch (mode) {
    case NDCTL_NS_MODE_FSDAX:
      out.mode = NamespaceMode::kFsdax;
      if (pfn != nullptr) {
        size = api.ndctl_pfn_get_size(pfn);
        location = api.ndctl_pfn_get_location(pfn);
      } else {  // static memory mode: the namespace itself
        size = api.ndctl_namespace_get_size(ndns);
        location = NDCTL_PFN_LOC_RAM;
      }
      break;
    case NDCTL_NS_MODE_DEVDAX:
      out.mode = NamespaceMode::kDevdax;
      if (dax != nullptr) {
        size = api.ndctl_dax_get_size(dax);
        location = api.ndctl_dax_get_location(dax);
      }
      break;
    case NDCTL_NS_MODE_SECTOR:
      out.mode = NamespaceMode::kSector;
      if (btt != nullptr) size = api.ndctl_btt_get_size(btt);
      break;
    case NDCTL_NS_MODE_RAW:
      out.mode = NamespaceMode::kRaw;
      size = api.ndctl_namespace_get_size(ndns);
      break;
    default:
      known_mode = false;
      break;
  }
  // Region seeds (and configured leftovers whose personality is gone) hold no
  // data; ndctl list -c leaves them out too.
  if (!out.enabled && (size == 0 || size == ULLONG_MAX)) return std::nullopt;
  if (!known_mode) {
    return Fail(ErrorKind::kSystem,
                "namespace '" + out.dev + "': libndctl reports no known mode" + log.Suffix());
  }
  if (size == 0 || size == ULLONG_MAX) {
    return Fail(ErrorKind::kSystem, "namespace '" + out.dev + "': enabled " +
                                        std::string(ModeName(out.mode)) +
                                        " namespace without a readable size" + log.Suffix());
  }
  out.size = size;
  if (mode != NDCTL_NS_MODE_SECTOR && mode != NDCTL_NS_MODE_RAW) {
    switch (location) {
      case NDCTL_PFN_LOC_RAM:
        out.map = "mem";
        break;
      case NDCTL_PFN_LOC_PMEM:
        out.map = "dev";
        break;
      default:
        out.map = "none";
        break;
    }
  }

  uuid_t uu;
  const char* bdev = nullptr;
  daxctl_region* dax_region = nullptr;
  if (btt != nullptr) {
    api.ndctl_btt_get_uuid(btt, uu);
    out.uuid = FormatUuid(uu);
    out.raw_uuid = NamespaceUuid(api, ndns);
    bdev = api.ndctl_btt_get_block_device(btt);
  } else if (pfn != nullptr) {
    out.align = api.ndctl_pfn_get_align(pfn);
    api.ndctl_pfn_get_uuid(pfn, uu);
    out.uuid = FormatUuid(uu);
    out.raw_uuid = NamespaceUuid(api, ndns);
    bdev = api.ndctl_pfn_get_block_device(pfn);
  } else if (dax != nullptr) {
    dax_region = api.ndctl_dax_get_daxctl_region(dax);
    out.align = api.ndctl_dax_get_align(dax);
    api.ndctl_dax_get_uuid(dax, uu);
    out.uuid = FormatUuid(uu);
    out.raw_uuid = NamespaceUuid(api, ndns);
  } else {
    // A raw namespace: its label uuid is its identity. Label-less (legacy
    // e820 / nd_namespace_io) namespaces have none.
    if (api.ndctl_namespace_get_type(ndns) != ND_DEVICE_NAMESPACE_IO)
      out.uuid = NamespaceUuid(api, ndns);
    bdev = api.ndctl_namespace_get_block_device(ndns);
  }
  out.blockdev = Text(bdev);
  out.name = Text(api.ndctl_namespace_get_alt_name(ndns));
  const int node = api.ndctl_namespace_get_numa_node(ndns);
  out.numa_node = node >= 0 ? node : -1;

  bool dax_usable = false;
  if (dax_region != nullptr) {
    auto device = FindDaxDevice(api, out.dev, dax_region, log);
    if (!device) return std::unexpected(device.error());
    if (*device) {
      out.chardev = (*device)->chardev;
      // What QEMU reads as the backing size (/sys/dev/char/M:m/size).
      out.size = (*device)->size;
      dax_usable = (*device)->usable;
    }
  }

  if (out.enabled) {
    if (out.mode == NamespaceMode::kDevdax) {
      if (!out.chardev.empty() && dax_usable) out.device_path = kDeviceDir + out.chardev;
    } else if (!out.blockdev.empty()) {
      out.device_path = kDeviceDir + out.blockdev;
    }
  }
  return out;
}

}  // namespace

Result<HostNamespaces> LibndctlInventory::List() {
  auto loaded = LoadLibndctl();
  if (!loaded) return std::unexpected(loaded.error());
  const LibndctlApi& api = **loaded;
  const LogCapture log;
  ndctl_ctx* raw_ctx = nullptr;
  const int rc = api.ndctl_new(&raw_ctx);
  if (rc < 0 || raw_ctx == nullptr) {
    return Fail(ErrorKind::kSystem, std::string("libndctl: cannot create a context: ") +
                                        std::strerror(-rc) + log.Suffix());
  }
  const CtxPtr ctx(raw_ctx, CtxUnref{&api});
  api.ndctl_set_log_fn(ctx.get(), NdctlLog);
  if (daxctl_ctx* dax_ctx = api.ndctl_get_daxctl_ctx(ctx.get()); dax_ctx != nullptr) {
    api.daxctl_set_log_fn(dax_ctx, DaxctlLog);
  }

  HostNamespaces namespaces;
  for (ndctl_bus* bus = api.ndctl_bus_get_first(ctx.get()); bus != nullptr;
       bus = api.ndctl_bus_get_next(bus)) {
    for (ndctl_region* region = api.ndctl_region_get_first(bus); region != nullptr;
         region = api.ndctl_region_get_next(region)) {
      for (ndctl_namespace* ndns = api.ndctl_namespace_get_first(region); ndns != nullptr;
           ndns = api.ndctl_namespace_get_next(ndns)) {
        auto ns = Describe(api, ndns, log);
        if (!ns) return std::unexpected(ns.error());
        if (*ns) namespaces.push_back(std::move(**ns));
      }
    }
  }
  return namespaces;
}

}  // namespace nvh
