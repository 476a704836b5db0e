// The hook's whole decision for one libvirt call, from argv and stdin to an
// exit code and the text for stderr. src/hook/main.cc only reads stdin and
// prints; the fuzz target (tests/fuzz/hook_fuzz.cc) calls this directly.
#pragma once

#include <functional>
#include <string>

#include "config/hook_config.h"
#include "core/decision_log.h"
#include "guard/guard.h"

namespace nvh {

struct HookExit {
  int exit_code = 0;         // what the hook process returns to libvirt
  std::string user_message;  // stderr
};

// The config is loaded only when the domain concerns us (fast path).
// `make_parts` turns it into the Guard's parts (PartsFromConfig in the hook).
HookExit RunHookCall(const HookInvocation& call, DecisionLog& log,
                     const std::function<Result<HookConfig>()>& load_config,
                     const std::function<GuardParts(const HookConfig&)>& make_parts);

}  // namespace nvh
