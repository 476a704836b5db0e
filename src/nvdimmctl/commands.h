// One function per nvdimmctl command; each takes the words after the command
// name and returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace nvh::cli {

int RunList(const std::vector<std::string>& args);
int RunPlan(const std::vector<std::string>& args);
int RunRewrite(const std::vector<std::string>& args);
int RunProbe(const std::vector<std::string>& args);   // probe_command.cc
int RunAttach(const std::vector<std::string>& args);  // domain_commands.cc
int RunDetach(const std::vector<std::string>& args);
int RunSync(const std::vector<std::string>& args);
int RunCheck(const std::vector<std::string>& args);
int RunStatus(const std::vector<std::string>& args);  // status_command.cc

}  // namespace nvh::cli
