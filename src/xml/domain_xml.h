// A libvirt domain definition held as a libxml2 document: parsed safely
// (XML_PARSE_NONET, no entity substitution, no DTD loading, size limits), read
// into nvh::Domain, and edited in place by the rewrite so that everything the
// project does not own survives byte-for-byte where libxml2 allows.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/annotation.h"
#include "core/domain.h"
#include "core/plan.h"
#include "util/error.h"
#include "xml/xml_limits.h"

struct _xmlDoc;

namespace nvh {

class DomainXml {
 public:
  // `origin` names the input in messages ("vm1.xml", "stdin").
  static Result<DomainXml> Parse(std::string_view text, std::string_view origin);

  DomainXml(DomainXml&&) noexcept;
  DomainXml& operator=(DomainXml&&) noexcept;
  ~DomainXml();

  // The facts the planner needs, including the annotation (strictly
  // validated: unknown attributes, two selectors, duplicates, bad sizes or
  // nodes are errors naming the domain, the element and the value).
  Result<Domain> Read() const;

  // Replaces the nvdimm-hook metadata element (never appends a second one:
  // libvirt keeps only the first per namespace). An empty annotation removes it.
  void SetAnnotation(const Annotation& annotation);

  // Makes the domain match the plan: inserts or updates the planned nvdimm
  // devices (matched by <source><path>), maxMemory, a NUMA cell, <acpi/>, and
  // <memory>/<currentMemory>. Touches nothing else. Returns one sentence per
  // change; a second Apply of the same plan returns none.
  std::vector<std::string> Apply(const Plan& plan);

  // Removes the <memory model='nvdimm'> whose <source><path> is `path`;
  // false when there is none. (`nvdimmctl detach`; maxMemory stays.)
  bool RemoveNvdimm(const std::string& path);

  std::string Serialize() const;

 private:
  explicit DomainXml(_xmlDoc* doc, std::string origin);
  struct DocDeleter {
    void operator()(_xmlDoc* doc) const;
  };
  std::unique_ptr<_xmlDoc, DocDeleter> doc_;
  std::string origin_;
};

}  // namespace nvh
