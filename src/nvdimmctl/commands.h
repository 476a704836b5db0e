// One function per nvdimmctl command; each takes the words after the command
// name and returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace nvh::cli {

int RunList(const std::vector<std::string>& args);
int RunPlan(const std::vector<std::string>& args);
int RunRewrite(const std::vector<std::string>& args);

}  // namespace nvh::cli
