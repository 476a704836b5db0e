// Placeholder until the QEMU probe lands (issue 5).
#include <iostream>

#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"

namespace nvh::cli {

int RunProbe(const std::vector<std::string>&) {
  std::cerr << "nvdimmctl probe: not built yet\n";
  return kExitUsage;
}

}  // namespace nvh::cli
