// Small helpers over a libxml2 tree: finding libvirt's (namespace-less)
// elements, reading text, attributes and sizes, describing an element in a
// message, and inserting/removing elements so that the indentation of the
// surrounding document is kept (the parser keeps blanks, see xml_safety.h).
#pragma once

#include <libxml/tree.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace nvh::xml {

std::string_view NameOf(const xmlNode* node);
// An element in no namespace (all of libvirt's own elements) named `name`.
bool IsElement(const xmlNode* node, std::string_view name);
// An element of any namespace; also namespaced ones.
bool IsAnyElement(const xmlNode* node);
// Whitespace-only text (or CDATA) node.
bool IsBlankText(const xmlNode* node);

// Direct element children (no namespace) called `name`.
xmlNode* Child(const xmlNode* parent, std::string_view name);
std::vector<xmlNode*> Children(const xmlNode* parent, std::string_view name);
// parent/a/b/c, each step the first such child.
xmlNode* Descend(const xmlNode* parent, std::initializer_list<std::string_view> path);

// Attribute without namespace.
std::optional<std::string> Attr(const xmlNode* node, std::string_view name);
// Text content with surrounding whitespace removed.
std::string Text(const xmlNode* node);

// `<memory unit="KiB">`: the start tag as a message shows it (prefix kept,
// namespace declarations left out, attributes in document order).
std::string Describe(const xmlNode* node);

// The element's value scaled by its `unit` attribute (empty unit means
// `default_unit`), or an error naming the element and the value.
Result<std::uint64_t> ReadSize(const xmlNode* node, std::uint64_t default_unit);
// Non-negative integer text/attribute values; errors name the element.
Result<std::uint64_t> ReadNumber(const xmlNode* node, std::string_view what, std::string_view value,
                                 std::uint64_t max);

// Editing. New elements get the document's indentation when it has one.
xmlNode* NewElement(xmlDoc* doc, std::string_view name);
void SetText(xmlNode* node, std::string_view text);
void SetAttr(xmlNode* node, std::string_view name, std::string_view value);
void InsertAfter(xmlNode* sibling, xmlNode* node);
void InsertBefore(xmlNode* sibling, xmlNode* node);
void Append(xmlNode* parent, xmlNode* node);
// Inserts `node` among the children of `parent` in the order libvirt writes
// them: after the last child whose name comes before node's name in `order`,
// else before the first element child, else as the only child.
void InsertOrdered(xmlNode* parent, xmlNode* node, std::span<const std::string_view> order);

// The order of <domain>'s children as libvirt writes them
// (virDomainDefFormatInternalSetRootName).
inline constexpr std::array<std::string_view, 38> kDomainChildOrder{"name",
                                                                    "uuid",
                                                                    "genid",
                                                                    "title",
                                                                    "description",
                                                                    "metadata",
                                                                    "maxMemory",
                                                                    "memory",
                                                                    "currentMemory",
                                                                    "blkiotune",
                                                                    "memtune",
                                                                    "memoryBacking",
                                                                    "vcpu",
                                                                    "vcpus",
                                                                    "iothreads",
                                                                    "iothreadids",
                                                                    "defaultiothread",
                                                                    "cputune",
                                                                    "numatune",
                                                                    "resource",
                                                                    "sysinfo",
                                                                    "bootloader",
                                                                    "bootloader_args",
                                                                    "os",
                                                                    "idmap",
                                                                    "features",
                                                                    "cpu",
                                                                    "clock",
                                                                    "on_poweroff",
                                                                    "on_reboot",
                                                                    "on_crash",
                                                                    "on_lockfailure",
                                                                    "pm",
                                                                    "perf",
                                                                    "devices",
                                                                    "seclabel",
                                                                    "keywrap",
                                                                    "launchSecurity"};
// Removes and frees `node` together with the indentation in front of it.
void Remove(xmlNode* node);

}  // namespace nvh::xml
