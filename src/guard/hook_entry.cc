#include "guard/hook_entry.h"

#include "guard/fast_path.h"
#include "guard/relevance.h"
#include "xml/domain_xml.h"

namespace nvh {
namespace {

constexpr int kAllow = 0;
constexpr int kRefuse = 1;

using fast_path::MayRefuse;

}  // namespace

HookExit RunHookCall(const HookInvocation& call, DecisionLog& log,
                     const std::function<Result<HookConfig>()>& load_config,
                     const std::function<GuardParts(const HookConfig&)>& make_parts) {
  if (!IsGuardedOperation(call.op) || !MayConcernNvdimm(call.xml)) return {};

  auto xml = DomainXml::Parse(call.xml, "stdin");
  auto domain = xml ? xml->Read() : Result<Domain>(std::unexpected(xml.error()));
  if (!domain) {
    // libvirt always sends its own valid XML; whatever this is, it is not
    // ours to block.
    log.Record(Severity::kWarning,
               "domain '" + call.domain_name + "' " + call.op + ": " + domain.error().message);
    // A broken annotation of ours must not switch the guard off.
    if (MayRefuse(call.op) && call.xml.find(kAnnotationUri) != std::string::npos) {
      return {kRefuse, "nvdimm-hook: " + domain.error().message + "\n"};
    }
    return {};
  }

  if (!HasNvdimmWork(*domain)) return {};  // "nvdimm" was only in some text
  auto config = load_config();
  const std::string device_dir = config ? config->device_dir : "/dev";
  if (Classify(*domain, device_dir) == Relevance::kNone) return {};
  if (!config) {
    log.Record(Severity::kError,
               "domain '" + domain->name + "' " + call.op + ": " + config.error().message);
    if (!MayRefuse(call.op)) return {};
    return {kRefuse, "nvdimm-hook: domain '" + domain->name +
                         "': cannot check its NVDIMMs: " + config.error().message + "\n"};
  }

  Guard guard(make_parts(*config));
  const HookOutcome outcome = guard.Run(call, *domain);
  return {MayRefuse(call.op) ? outcome.exit_code : kAllow, outcome.user_message};
}

}  // namespace nvh
