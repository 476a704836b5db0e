// The domain XML reader and the rewrite: any input is read or refused
// cleanly; what was read plans against the emulated inventory; a planned
// rewrite serialises to a document that reads again and that a second Apply
// of the same plan leaves unchanged (xml/domain_xml.h promises both).
#include "core/plan.h"
#include "fuzz_support.h"
#include "ndctl/json_inventory.h"
#include "xml/domain_xml.h"

namespace {

const nvh::HostNamespaces& Inventory() {
  static const nvh::HostNamespaces namespaces = [] {
    nvh::JsonInventory inventory(NVH_SOURCE_DIR "/tests/data/ndctl-list-N-v.emulated.json");
    auto listed = inventory.List();
    if (!listed) nvh::fuzz::Broken();
    return *listed;
  }();
  return namespaces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto xml = nvh::DomainXml::Parse(nvh::fuzz::AsText(data, size), "fuzz");
  if (!xml) return 0;
  auto domain = xml->Read();
  if (!domain) return 0;
  auto plan = nvh::MakePlan(*domain, Inventory());
  if (!plan) return 0;
  (void)nvh::DiffAgainstPlan(*domain, *plan);
  const auto changes = xml->Apply(*plan);
  if (plan->devices.empty() && !changes.empty()) nvh::fuzz::Broken();  // nothing planned, changed
  auto again = nvh::DomainXml::Parse(xml->Serialize(), "fuzz rewritten");
  if (!again) nvh::fuzz::Broken();
  auto reread = again->Read();
  if (!reread) nvh::fuzz::Broken();
  if (!again->Apply(*plan).empty()) nvh::fuzz::Broken();
  return 0;
}
