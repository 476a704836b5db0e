// The ndctl JSON reader (`inventory = FILE`): any file content is listed or
// refused with an error, never a crash or an exception.
#include "fuzz_support.h"
#include "ndctl/json_inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nvh::fuzz::MemoryFile file(nvh::fuzz::AsText(data, size));
  nvh::JsonInventory inventory(file.Path(), "/dev");
  auto listed = inventory.List();
  if (!listed) return 0;
  for (const nvh::HostNamespace& ns : *listed) (void)ns.DevicePath();
  return 0;
}
