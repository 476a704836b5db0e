#include "xml/annotation_xml.h"

#include <algorithm>
#include <bit>
#include <set>
#include <utility>
#include <vector>

#include "core/sizing.h"
#include "util/bytes.h"
#include "xml/xml_safety.h"
#include "xml/xml_tree.h"

namespace nvh::xml {
namespace {

constexpr std::string_view kPrefix = "nvdimm";
constexpr std::string_view kRootName = "nvdimms";
constexpr std::string_view kEntryName = "nvdimm";
constexpr std::uint64_t kLabelGranule = 4 * KiB;
// PATH_MAX: longer paths cannot name a device node anyway.
constexpr std::size_t kMaxPathLength = 4096;

std::string Quote(std::string_view value) {
  return "\"" + std::string(value) + "\"";
}

bool InOurNamespace(const xmlNode* node) {
  return node != nullptr && node->ns != nullptr && node->ns->href != nullptr &&
         std::string_view(FromXml(node->ns->href)) == kAnnotationUri;
}

std::string NamespaceOf(const xmlNode* node) {
  if (node->ns == nullptr || node->ns->href == nullptr) return "no namespace";
  return "namespace " + std::string(FromXml(node->ns->href));
}

std::string AttrName(const xmlAttr* attr) {
  std::string name;
  if (attr->ns != nullptr && attr->ns->prefix != nullptr) {
    name = std::string(FromXml(attr->ns->prefix)) + ":";
  }
  return name + FromXml(attr->name);
}

std::string AttrValue(const xmlAttr* attr) {
  XmlString value(xmlNodeGetContent(reinterpret_cast<const xmlNode*>(attr)));
  return value ? FromXml(value.get()) : "";
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsUuid(std::string_view value) {
  if (value.size() != 36) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? value[i] != '-' : !IsHex(value[i])) return false;
  }
  return true;
}

bool IsDigits(std::string_view value) {
  return !value.empty() &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ndctl's bus device name: namespaceX.Y.
bool IsNamespaceName(std::string_view value) {
  constexpr std::string_view kStem = "namespace";
  if (!value.starts_with(kStem)) return false;
  const std::string_view rest = value.substr(kStem.size());
  const std::size_t dot = rest.find('.');
  return dot != std::string_view::npos && IsDigits(rest.substr(0, dot)) &&
         IsDigits(rest.substr(dot + 1));
}

Result<void> CheckPath(std::string_view path) {
  if (!path.starts_with("/")) {
    return Fail(ErrorKind::kInvalidInput, "path " + Quote(path) + " is not absolute");
  }
  if (path.size() > kMaxPathLength) {
    return Fail(ErrorKind::kInvalidInput, "path " + Quote(path) + " is too long");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Fail(ErrorKind::kInvalidInput,
                  "path " + Quote(path) + " contains a control character");
    }
  }
  // Every component must be a plain name: no "", ".", "..", so that the
  // path is already canonical and "/dev/../etc/shadow" cannot pass as /dev/.
  std::string_view rest = path.substr(1);
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") {
      return Fail(ErrorKind::kInvalidInput,
                  "path " + Quote(path) +
                      " is not canonical (empty, \".\" or \"..\" component, or trailing \"/\")");
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (!path.starts_with("/dev/")) {
    return Fail(ErrorKind::kInvalidInput,
                "path " + Quote(path) + " is not under /dev/ (a namespace's device node)");
  }
  return {};
}

std::string SelectorAttribute(SelectorKind kind) {
  switch (kind) {
    case SelectorKind::kUuid:
      return "uuid";
    case SelectorKind::kNamespace:
      return "namespace";
    case SelectorKind::kPath:
      return "path";
  }
  return "uuid";
}

std::string Lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Elements in our namespace directly under <metadata>.
std::vector<xmlNode*> OurElements(const xmlNode* metadata) {
  std::vector<xmlNode*> out;
  if (metadata == nullptr) return out;
  for (xmlNode* child = metadata->children; child != nullptr; child = child->next) {
    if (IsAnyElement(child) && InOurNamespace(child)) out.push_back(child);
  }
  return out;
}

// An element must hold nothing but whitespace, comments and, for
// <nvdimms>, <nvdimm> entries.
Result<void> CheckContent(const xmlNode* element, bool entries_allowed) {
  for (const xmlNode* child = element->children; child != nullptr; child = child->next) {
    if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) {
      if (!IsBlankText(child)) {
        return Fail(ErrorKind::kInvalidInput,
                    Describe(element) + ": unexpected text " +
                        Quote(child->content == nullptr ? "" : FromXml(child->content)));
      }
    } else if (IsAnyElement(child)) {
      if (entries_allowed && InOurNamespace(child) && NameOf(child) == kEntryName) continue;
      return Fail(ErrorKind::kInvalidInput,
                  Describe(element) + ": unexpected element " + Describe(child) + " in " +
                      NamespaceOf(child) +
                      (entries_allowed ? std::string("; only <nvdimm> entries in namespace ") +
                                             kAnnotationUri + " are allowed"
                                       : std::string("; <nvdimm> entries have no content")));
    } else if (child->type == XML_ENTITY_REF_NODE) {
      return Fail(ErrorKind::kInvalidInput, Describe(element) + ": unexpected entity reference");
    }
  }
  return {};
}

Result<NvdimmRequest> ReadEntry(const xmlNode* entry) {
  const auto fail = [&](const std::string& what) {
    return Fail(ErrorKind::kInvalidInput, Describe(entry) + ": " + what);
  };
  if (auto content = CheckContent(entry, false); !content) return std::unexpected(content.error());

  NvdimmRequest request;
  std::vector<std::string> selectors;
  for (const xmlAttr* attr = entry->properties; attr != nullptr; attr = attr->next) {
    const std::string name = AttrName(attr);
    const std::string value = AttrValue(attr);
    const bool known = attr->ns == nullptr && (name == "uuid" || name == "namespace" ||
                                               name == "path" || name == "node" || name == "label");
    if (!known) return fail("unknown attribute " + name + "=" + Quote(value));
    if (value.empty()) return fail("empty " + name + "=\"\"");
    if (name == "node") {
      if (!IsDigits(value) || value.size() > 3 || std::stoi(value) > kMaxGuestNode) {
        return fail("node " + Quote(value) + " is not a guest NUMA node number (0-" +
                    std::to_string(kMaxGuestNode) + ")");
      }
      request.node = std::stoi(value);
    } else if (name == "label") {
      auto size = ParseSize(value);
      if (!size) return fail("label " + Quote(value) + ": " + size.error().message);
      request.label_size = *size;
    } else {
      selectors.push_back(name);
      request.kind = name == "uuid"        ? SelectorKind::kUuid
                     : name == "namespace" ? SelectorKind::kNamespace
                                           : SelectorKind::kPath;
      request.value = request.kind == SelectorKind::kUuid ? Lowered(value) : value;
    }
  }
  if (selectors.empty()) {
    return fail("no selector: exactly one of uuid, namespace or path is required");
  }
  if (selectors.size() > 1) {
    return fail("two selectors (" + selectors[0] + " and " + selectors[1] +
                "): exactly one of uuid, namespace or path is allowed");
  }
  if (auto checked = CheckRequest(request); !checked) return fail(checked.error().message);
  return request;
}

xmlNode* NewOurElement(xmlDoc* doc, xmlNs* ns, std::string_view name) {
  xmlNode* node = NewElement(doc, name);
  xmlSetNs(node, ns);
  return node;
}

}  // namespace

std::string FormatLabel(std::uint64_t bytes) {
  std::string text = FormatSize(bytes);
  std::erase(text, ' ');
  return text;
}

Result<std::uint64_t> ParseHotplugBlock(std::string_view text) {
  const std::string quoted = Quote(std::string(text));
  if (text == "none") return 0;
  auto size = ParseSize(text);
  if (!size)
    return Fail(ErrorKind::kInvalidInput, "hotplug-block " + quoted + ": " + size.error().message);
  // Linux memory blocks are power-of-two multiples of the sparsemem section
  // (x86_64 128 MiB up to 2 GiB, arm64 128 MiB or 512 MiB, ppc64 LMBs).
  if (!std::has_single_bit(*size) || *size < 2 * 1024 * 1024 || *size > std::uint64_t{64} << 30) {
    return Fail(ErrorKind::kInvalidInput,
                "hotplug-block " + quoted +
                    " is not a power of two between 2 MiB and 64 GiB, nor \"none\"");
  }
  return *size;
}

Result<void> CheckRequest(const NvdimmRequest& request) {
  const std::string attribute = SelectorAttribute(request.kind);
  if (request.value.empty()) {
    return Fail(ErrorKind::kInvalidInput, "empty " + attribute + "=\"\"");
  }
  switch (request.kind) {
    case SelectorKind::kUuid:
      if (!IsUuid(request.value)) {
        return Fail(ErrorKind::kInvalidInput, "uuid " + Quote(request.value) +
                                                  " is not a UUID (8-4-4-4-12 hexadecimal digits)");
      }
      break;
    case SelectorKind::kNamespace:
      if (!IsNamespaceName(request.value)) {
        return Fail(ErrorKind::kInvalidInput,
                    "namespace " + Quote(request.value) +
                        " is not an ndctl namespace device name like namespace0.0");
      }
      break;
    case SelectorKind::kPath:
      if (auto path = CheckPath(request.value); !path) return path;
      break;
  }
  if (request.node && (*request.node < 0 || *request.node > kMaxGuestNode)) {
    return Fail(ErrorKind::kInvalidInput, "node " + std::to_string(*request.node) +
                                              " is not a guest NUMA node number (0-" +
                                              std::to_string(kMaxGuestNode) + ")");
  }
  if (request.label_size) {
    const std::uint64_t label = *request.label_size;
    if (label < kMinLabelSize) {
      return Fail(ErrorKind::kInvalidInput, "label " + FormatSize(label) + " is below the " +
                                                FormatSize(kMinLabelSize) + " minimum");
    }
    if (label % kLabelGranule != 0) {
      return Fail(
          ErrorKind::kInvalidInput,
          "label " + FormatSize(label) + " is not a multiple of " + FormatSize(kLabelGranule));
    }
  }
  return {};
}

Result<std::optional<Annotation>> ReadAnnotation(const xmlNode* domain) {
  const xmlNode* metadata = Child(domain, "metadata");
  const std::vector<xmlNode*> ours = OurElements(metadata);
  if (ours.empty()) return std::optional<Annotation>();
  if (ours.size() > 1) {
    return Fail(ErrorKind::kInvalidInput,
                "<metadata> has " + std::to_string(ours.size()) + " elements in namespace " +
                    kAnnotationUri + " (" + Describe(ours[0]) + " and " + Describe(ours[1]) +
                    "); libvirt keeps only the first, so there must be exactly one");
  }
  const xmlNode* root = ours.front();
  if (NameOf(root) != kRootName) {
    return Fail(ErrorKind::kInvalidInput, Describe(root) + ": unexpected element in namespace " +
                                              kAnnotationUri + ", expected <nvdimms>");
  }
  Annotation annotation;
  for (const xmlAttr* attr = root->properties; attr != nullptr; attr = attr->next) {
    if (AttrName(attr) != "hotplug-block") {
      return Fail(ErrorKind::kInvalidInput, Describe(root) + ": unknown attribute " +
                                                AttrName(attr) + "=" + Quote(AttrValue(attr)));
    }
    auto block = ParseHotplugBlock(AttrValue(attr));
    if (!block) return std::unexpected(WithContext(block.error(), Describe(root) + ": "));
    annotation.hotplug_block = *block;
  }
  if (auto content = CheckContent(root, true); !content) return std::unexpected(content.error());

  std::set<std::pair<SelectorKind, std::string>> seen;
  for (const xmlNode* child = root->children; child != nullptr; child = child->next) {
    if (!IsAnyElement(child)) continue;
    auto request = ReadEntry(child);
    if (!request) return std::unexpected(request.error());
    if (!seen.emplace(request->kind, request->value).second) {
      return Fail(ErrorKind::kInvalidInput, Describe(child) + ": duplicate entry " +
                                                DescribeSelector(*request) +
                                                " (each namespace may be named only once)");
    }
    annotation.entries.push_back(std::move(*request));
  }
  return std::optional<Annotation>(std::move(annotation));
}

void WriteAnnotation(xmlNode* domain, const Annotation& annotation) {
  xmlNode* metadata = Child(domain, "metadata");
  std::vector<xmlNode*> ours = OurElements(metadata);
  if (annotation.entries.empty()) {
    for (xmlNode* node : ours) Remove(node);
    if (metadata != nullptr && !ours.empty()) {
      bool has_content = false;
      for (const xmlNode* child = metadata->children; child != nullptr; child = child->next) {
        if (!IsBlankText(child)) has_content = true;
      }
      // libvirt writes no empty <metadata/>; neither do we.
      if (!has_content) Remove(metadata);
    }
    return;
  }

  xmlDoc* doc = domain->doc;
  xmlNode* root = NewElement(doc, kRootName);
  const std::string uri = kAnnotationUri;
  const std::string prefix(kPrefix);
  xmlNs* ns = xmlNewNs(root, ToXml(uri.c_str()), ToXml(prefix.c_str()));
  xmlSetNs(root, ns);

  if (!ours.empty()) {
    InsertBefore(ours.front(), root);
    for (xmlNode* node : ours) Remove(node);
  } else {
    if (metadata == nullptr) {
      metadata = NewElement(doc, "metadata");
      InsertOrdered(domain, metadata, kDomainChildOrder);
    }
    Append(metadata, root);
  }
  if (annotation.hotplug_block) {
    SetAttr(root, "hotplug-block",
            *annotation.hotplug_block == 0 ? "none" : FormatLabel(*annotation.hotplug_block));
  }
  for (const NvdimmRequest& request : annotation.entries) {
    xmlNode* entry = NewOurElement(doc, ns, kEntryName);
    SetAttr(entry, SelectorAttribute(request.kind), request.value);
    if (request.node) SetAttr(entry, "node", std::to_string(*request.node));
    if (request.label_size) SetAttr(entry, "label", FormatLabel(*request.label_size));
    Append(root, entry);
  }
}

}  // namespace nvh::xml
