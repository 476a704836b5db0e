// The nvdimm-hook annotation in a domain's <metadata> (DESIGN.md §2):
//
//   <nvdimm:nvdimms xmlns:nvdimm="urn:nvdimm-hook:1" hotplug-block="1GiB">
//     <nvdimm:nvdimm uuid="…" node="1" label="128KiB"/>
//   </nvdimm:nvdimms>
//
// Found by namespace URI, never by prefix; a default-namespace spelling
// (<nvdimms xmlns="urn:nvdimm-hook:1"><nvdimm …/></nvdimms>) is the same
// thing. Read strictly: anything not described above is an error.
#pragma once

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/annotation.h"
#include "util/error.h"

namespace nvh::xml {

// Highest guest NUMA node an annotation may name.
inline constexpr int kMaxGuestNode = 255;

// The annotation of a <domain> element; nullopt when there is no element in
// kAnnotationUri. Errors name the element and the value, not the domain (the
// caller adds "domain 'vm1': ").
Result<std::optional<Annotation>> ReadAnnotation(const xmlNode* domain);

// Replaces every element in kAnnotationUri under <metadata> with one
// <nvdimm:nvdimms> (creating <metadata> when needed) where the first one was;
// an empty annotation removes them. Other metadata is left alone.
void WriteAnnotation(xmlNode* domain, const Annotation& annotation);

// Checks one entry the way ReadAnnotation does (selector syntax, node range,
// label size); the message names the value. For callers building an
// Annotation from command-line input.
Result<void> CheckRequest(const NvdimmRequest& request);

// <nvdimm:nvdimms hotplug-block="…">: "none" (0) or a power of two from
// 2 MiB to 64 GiB ("1GiB", "512MiB"); the message names the value.
Result<std::uint64_t> ParseHotplugBlock(std::string_view text);

// How a label is written back: "128KiB" (ParseSize reads it).
std::string FormatLabel(std::uint64_t bytes);

}  // namespace nvh::xml
