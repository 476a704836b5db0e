#include "ndctl/libndctl_api.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

namespace nvh {
namespace {

std::string DlError() {
  const char* text = dlerror();
  return text == nullptr ? std::string("unknown error") : std::string(text);
}

Result<const LibndctlApi*> Load() {
  // RTLD_NOW: a missing function fails here, not in the middle of a listing.
  // The handles stay open for the life of the process.
  void* ndctl = dlopen(kLibndctlSoname, RTLD_NOW | RTLD_LOCAL);
  if (ndctl == nullptr) {
    return Fail(ErrorKind::kSystem, std::string("cannot load ") + kLibndctlSoname +
                                        " (package libndctl6): " + DlError());
  }
  void* daxctl = dlopen(kLibdaxctlSoname, RTLD_NOW | RTLD_LOCAL);
  if (daxctl == nullptr) {
    return Fail(ErrorKind::kSystem, std::string("cannot load ") + kLibdaxctlSoname +
                                        " (package libdaxctl1): " + DlError());
  }
  static LibndctlApi api;
  std::string missing;
  auto resolve = [&missing](void* library, const char* soname, const char* name, auto& slot) {
    dlerror();
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) {
      if (missing.empty()) missing = std::string(name) + " in " + soname + ": " + DlError();
      return;
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol);
  };
#define NVH_RESOLVE_NDCTL(name) resolve(ndctl, kLibndctlSoname, #name, api.name);
#define NVH_RESOLVE_DAXCTL(name) resolve(daxctl, kLibdaxctlSoname, #name, api.name);
  NVH_LIBNDCTL_FUNCTIONS(NVH_RESOLVE_NDCTL)
  NVH_LIBDAXCTL_FUNCTIONS(NVH_RESOLVE_DAXCTL)
#undef NVH_RESOLVE_NDCTL
#undef NVH_RESOLVE_DAXCTL
  if (!missing.empty()) {
    return Fail(ErrorKind::kSystem, "libndctl is too old or broken: cannot find " + missing);
  }
  return &api;
}

}  // namespace

Result<const LibndctlApi*> LoadLibndctl() {
  static const Result<const LibndctlApi*> loaded = Load();
  return loaded;
}

}  // namespace nvh
