// The hook's config parser: any file is a config or an error, never a crash.
#include "config/hook_config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nvh::fuzz::MemoryFile file(nvh::fuzz::AsText(data, size));
  (void)nvh::LoadHookConfigFile(file.Path());
  return 0;
}
