// Placeholder until the domain commands land (issue 3).
#include <iostream>

#include "nvdimmctl/cli.h"
#include "nvdimmctl/commands.h"

namespace nvh::cli {
namespace {
int NotYet(const char* name) {
  std::cerr << "nvdimmctl " << name << ": not built yet\n";
  return kExitUsage;
}
}  // namespace

int RunAttach(const std::vector<std::string>&) {
  return NotYet("attach");
}
int RunDetach(const std::vector<std::string>&) {
  return NotYet("detach");
}
int RunSync(const std::vector<std::string>&) {
  return NotYet("sync");
}
int RunCheck(const std::vector<std::string>&) {
  return NotYet("check");
}
int RunStatus(const std::vector<std::string>&) {
  return NotYet("status");
}

}  // namespace nvh::cli
