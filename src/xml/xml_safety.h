// Owning handles for libxml2 objects and the one way this project turns bytes
// into a libxml2 document: no network, no entity substitution, no DTD loading,
// no "huge" mode, and no DOCTYPE at all (a libvirt domain never has one), so
// neither XXE nor entity expansion bombs can happen. Errors are collected per
// parser context; nothing is printed.
#pragma once

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.h"

namespace nvh::xml {

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

struct XmlStringFree {
  void operator()(xmlChar* text) const;
};
// A string libxml2 allocated (xmlNodeGetContent, xmlGetNoNsProp, …).
using XmlString = std::unique_ptr<xmlChar, XmlStringFree>;

// libxml2's strings are UTF-8 bytes as unsigned char.
inline const xmlChar* ToXml(const char* text) {
  return reinterpret_cast<const xmlChar*>(text);
}
inline const char* FromXml(const xmlChar* text) {
  return reinterpret_cast<const char*>(text);
}

// Parses `text` as a standalone XML document. Refuses inputs above
// `max_bytes`, any DOCTYPE (internal or external subset, hence any entity
// declaration), and any well-formedness or namespace error. Messages start
// with `origin` ("vm1.xml: malformed XML at line 3: …"); kind kInvalidInput.
Result<DocPtr> SafeParse(std::string_view text, std::string_view origin, std::size_t max_bytes);

}  // namespace nvh::xml
