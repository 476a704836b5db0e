// The annotation parser: the input is the content of <metadata>; whatever it
// holds is read or refused, and an annotation read is written back and reads
// again as the same value.
#include <libxml/tree.h>

#include "fuzz_support.h"
#include "xml/annotation_xml.h"
#include "xml/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = "<domain><name>fuzz</name><metadata>" +
                           std::string(nvh::fuzz::AsText(data, size)) + "</metadata></domain>";
  auto xml = nvh::DomainXml::Parse(text, "fuzz");
  if (!xml) return 0;
  auto domain = xml->Read();
  if (!domain || !domain->annotation) return 0;
  xml->SetAnnotation(*domain->annotation);
  auto again = nvh::DomainXml::Parse(xml->Serialize(), "fuzz rewritten");
  if (!again) nvh::fuzz::Broken();
  auto reread = again->Read();
  if (!reread) nvh::fuzz::Broken();
  if (domain->annotation->entries.empty()) return 0;  // an empty one is removed
  if (!reread->annotation || *reread->annotation != *domain->annotation) nvh::fuzz::Broken();
  return 0;
}
