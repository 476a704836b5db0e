#include "xml/xml_tree.h"

#include <algorithm>
#include <charconv>

#include "util/bytes.h"
#include "xml/xml_safety.h"

namespace nvh::xml {
namespace {

// libvirt indents by two spaces.
constexpr std::string_view kIndentUnit = "  ";

bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

std::string ContentOf(const xmlNode* node) {
  XmlString content(xmlNodeGetContent(node));
  return content ? FromXml(content.get()) : "";
}

// The indentation in front of `node` when the text before it ends a line:
// "    " for "\n    <node>"; nullopt when the node does not start a line.
std::optional<std::string> IndentBefore(const xmlNode* node) {
  if (node->parent != nullptr && node->parent->type == XML_DOCUMENT_NODE) return "";
  const xmlNode* prev = node->prev;
  if (prev == nullptr || !IsBlankText(prev) || prev->content == nullptr) return std::nullopt;
  const std::string_view text = FromXml(prev->content);
  const std::size_t newline = text.rfind('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(newline + 1));
}

// The indentation of the children of `parent`: copied from an existing
// element child, else one unit deeper than the parent. nullopt for a compact
// (unindented) document.
std::optional<std::string> ChildIndent(const xmlNode* parent) {
  bool has_elements = false;
  for (const xmlNode* child = parent->children; child != nullptr; child = child->next) {
    if (!IsAnyElement(child)) continue;
    has_elements = true;
    if (auto indent = IndentBefore(child)) return indent;
  }
  if (has_elements) return std::nullopt;
  auto parent_indent = IndentBefore(parent);
  if (!parent_indent) return std::nullopt;
  return *parent_indent + std::string(kIndentUnit);
}

xmlNode* NewText(xmlDoc* doc, std::string_view text) {
  const std::string copy(text);
  return xmlNewDocText(doc, ToXml(copy.c_str()));
}

xmlNode* FirstElement(const xmlNode* parent) {
  for (xmlNode* child = parent->children; child != nullptr; child = child->next) {
    if (IsAnyElement(child)) return child;
  }
  return nullptr;
}

xmlNode* LastElement(const xmlNode* parent) {
  for (xmlNode* child = parent->last; child != nullptr; child = child->prev) {
    if (IsAnyElement(child)) return child;
  }
  return nullptr;
}

}  // namespace

std::string_view NameOf(const xmlNode* node) {
  return node->name == nullptr ? std::string_view() : std::string_view(FromXml(node->name));
}

bool IsAnyElement(const xmlNode* node) {
  return node != nullptr && node->type == XML_ELEMENT_NODE;
}

bool IsElement(const xmlNode* node, std::string_view name) {
  return IsAnyElement(node) && node->ns == nullptr && NameOf(node) == name;
}

bool IsBlankText(const xmlNode* node) {
  if (node == nullptr || (node->type != XML_TEXT_NODE && node->type != XML_CDATA_SECTION_NODE)) {
    return false;
  }
  return node->content == nullptr || IsBlank(FromXml(node->content));
}

xmlNode* Child(const xmlNode* parent, std::string_view name) {
  if (parent == nullptr) return nullptr;
  for (xmlNode* child = parent->children; child != nullptr; child = child->next) {
    if (IsElement(child, name)) return child;
  }
  return nullptr;
}

std::vector<xmlNode*> Children(const xmlNode* parent, std::string_view name) {
  std::vector<xmlNode*> out;
  if (parent == nullptr) return out;
  for (xmlNode* child = parent->children; child != nullptr; child = child->next) {
    if (IsElement(child, name)) out.push_back(child);
  }
  return out;
}

xmlNode* Descend(const xmlNode* parent, std::initializer_list<std::string_view> path) {
  const xmlNode* node = parent;
  for (std::string_view step : path) {
    node = Child(node, step);
    if (node == nullptr) return nullptr;
  }
  return const_cast<xmlNode*>(node);
}

std::optional<std::string> Attr(const xmlNode* node, std::string_view name) {
  const std::string key(name);
  XmlString value(xmlGetNoNsProp(node, ToXml(key.c_str())));
  if (!value) return std::nullopt;
  return std::string(FromXml(value.get()));
}

std::string Text(const xmlNode* node) {
  std::string text = ContentOf(node);
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.back())) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && blank(text[start])) ++start;
  return text.substr(start);
}

std::string Describe(const xmlNode* node) {
  std::string out = "<";
  if (node->ns != nullptr && node->ns->prefix != nullptr) {
    out += FromXml(node->ns->prefix);
    out += ':';
  }
  out += NameOf(node);
  for (const xmlAttr* attr = node->properties; attr != nullptr; attr = attr->next) {
    out += ' ';
    if (attr->ns != nullptr && attr->ns->prefix != nullptr) {
      out += FromXml(attr->ns->prefix);
      out += ':';
    }
    out += FromXml(attr->name);
    out += "=\"";
    out += ContentOf(reinterpret_cast<const xmlNode*>(attr));
    out += '"';
  }
  out += '>';
  return out;
}

Result<std::uint64_t> ReadSize(const xmlNode* node, std::uint64_t default_unit) {
  const std::string value = Text(node);
  const std::string unit = Attr(node, "unit").value_or("");
  auto size = ScaleSize(value, unit, default_unit);
  if (!size) {
    return Fail(ErrorKind::kInvalidInput, Describe(node) + ": size '" + value + "' with unit '" +
                                              unit + "' is invalid: " + size.error().message);
  }
  return size;
}

Result<std::uint64_t> ReadNumber(const xmlNode* node, std::string_view what, std::string_view value,
                                 std::uint64_t max) {
  std::uint64_t number = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, number);
  if (value.empty() || ec != std::errc() || ptr != end || number > max) {
    return Fail(ErrorKind::kInvalidInput,
                Describe(node) + ": " + std::string(what) + " '" + std::string(value) +
                    "' is not a whole number from 0 to " + std::to_string(max));
  }
  return number;
}

xmlNode* NewElement(xmlDoc* doc, std::string_view name) {
  const std::string copy(name);
  return xmlNewDocNode(doc, nullptr, ToXml(copy.c_str()), nullptr);
}

void SetText(xmlNode* node, std::string_view text) {
  while (node->children != nullptr) {
    xmlNode* child = node->children;
    xmlUnlinkNode(child);
    xmlFreeNode(child);
  }
  // A text node, not xmlNodeSetContent: that one would parse "&…;" as
  // entity references.
  xmlAddChild(node, NewText(node->doc, text));
}

void SetAttr(xmlNode* node, std::string_view name, std::string_view value) {
  const std::string key(name);
  const std::string copy(value);
  // xmlSetProp stores the value as plain text (no entity parsing) and keeps
  // an existing attribute where it is.
  xmlSetProp(node, ToXml(key.c_str()), ToXml(copy.c_str()));
}

void InsertAfter(xmlNode* sibling, xmlNode* node) {
  const auto indent = ChildIndent(sibling->parent);
  xmlAddNextSibling(sibling, node);
  if (indent) xmlAddPrevSibling(node, NewText(node->doc, "\n" + *indent));
}

void InsertBefore(xmlNode* sibling, xmlNode* node) {
  const auto indent = ChildIndent(sibling->parent);
  xmlAddPrevSibling(sibling, node);
  if (indent) xmlAddNextSibling(node, NewText(node->doc, "\n" + *indent));
}

void Append(xmlNode* parent, xmlNode* node) {
  if (xmlNode* last = LastElement(parent)) {
    InsertAfter(last, node);
    return;
  }
  const auto indent = ChildIndent(parent);
  const auto parent_indent = IndentBefore(parent);
  bool only_blanks = true;
  for (const xmlNode* child = parent->children; child != nullptr; child = child->next) {
    if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
        !IsBlankText(child)) {
      only_blanks = false;
    }
  }
  if (!indent || !parent_indent || !only_blanks) {
    xmlAddChild(parent, node);
    return;
  }
  for (xmlNode* child = parent->children; child != nullptr;) {
    xmlNode* next = child->next;
    if (IsBlankText(child)) {
      xmlUnlinkNode(child);
      xmlFreeNode(child);
    }
    child = next;
  }
  xmlNode* anchor = parent->last;  // a comment or PI, or nullptr
  if (anchor == nullptr) {
    xmlAddChild(parent, NewText(node->doc, "\n" + *indent));
  } else {
    xmlAddNextSibling(anchor, NewText(node->doc, "\n" + *indent));
  }
  xmlAddChild(parent, node);
  xmlAddChild(parent, NewText(node->doc, "\n" + *parent_indent));
}

void InsertOrdered(xmlNode* parent, xmlNode* node, std::span<const std::string_view> order) {
  const auto rank = [&](const xmlNode* n) -> std::optional<std::size_t> {
    if (n->ns != nullptr) return std::nullopt;
    const auto it = std::find(order.begin(), order.end(), NameOf(n));
    if (it == order.end()) return std::nullopt;
    return static_cast<std::size_t>(it - order.begin());
  };
  const auto own = rank(node);
  xmlNode* after = nullptr;
  if (own) {
    for (xmlNode* child = parent->children; child != nullptr; child = child->next) {
      if (!IsAnyElement(child)) continue;
      const auto r = rank(child);
      if (r && *r <= *own) after = child;
    }
  }
  if (after != nullptr) {
    InsertAfter(after, node);
  } else if (xmlNode* first = FirstElement(parent); first != nullptr && own) {
    InsertBefore(first, node);
  } else {
    Append(parent, node);
  }
}

void Remove(xmlNode* node) {
  if (IsBlankText(node->prev)) {
    xmlNode* blank = node->prev;
    xmlUnlinkNode(blank);
    xmlFreeNode(blank);
  }
  xmlUnlinkNode(node);
  xmlFreeNode(node);
}

}  // namespace nvh::xml
