#include "xml/xml_safety.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <optional>

namespace nvh::xml {
namespace {

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};
using ParserCtxtPtr = std::unique_ptr<xmlParserCtxt, ParserCtxtFree>;

// What the callbacks of one parse learned; reached through ctxt->_private.
struct ParseReport {
  std::optional<std::string> first_error;  // "line N: message"
  std::optional<std::string> doctype;      // "line N" of a refused DOCTYPE
};

std::string Trimmed(const char* text) {
  std::string out = text == nullptr ? "" : text;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

ParseReport* ReportOf(void* user_data) {
  // libxml2 hands the callbacks ctxt->userData, which is the context itself
  // when no user data was given (xmlInitParserCtxt).
  auto* ctxt = static_cast<xmlParserCtxt*>(user_data);
  return static_cast<ParseReport*>(ctxt->_private);
}

// Structured error handler of this context only: keeps the first error
// (later ones are usually consequences of it), ignores warnings.
void OnError(void* user_data, xmlError* error) {
  if (error == nullptr || error->level < XML_ERR_ERROR) return;
  ParseReport* report = ReportOf(user_data);
  if (report->first_error) return;
  report->first_error = "line " + std::to_string(error->line) + ": " + Trimmed(error->message);
}

// Called as soon as "<!DOCTYPE name [ExternalID]" has been read, before the
// internal subset (entity declarations) or any external subset is looked at.
void OnDoctype(void* user_data, const xmlChar* /*name*/, const xmlChar* /*external_id*/,
               const xmlChar* /*system_id*/) {
  auto* ctxt = static_cast<xmlParserCtxt*>(user_data);
  ParseReport* report = ReportOf(user_data);
  if (!report->doctype) report->doctype = "line " + std::to_string(xmlSAX2GetLineNumber(ctxt));
  xmlStopParser(ctxt);
}

// Belt and braces: an entity declaration can only appear in a DOCTYPE, which
// OnDoctype already stopped at; never let one reach the document.
void OnEntityDecl(void* user_data, const xmlChar* /*name*/, int /*type*/,
                  const xmlChar* /*public_id*/, const xmlChar* /*system_id*/,
                  xmlChar* /*content*/) {
  auto* ctxt = static_cast<xmlParserCtxt*>(user_data);
  ParseReport* report = ReportOf(user_data);
  if (!report->doctype) report->doctype = "line " + std::to_string(xmlSAX2GetLineNumber(ctxt));
  xmlStopParser(ctxt);
}

}  // namespace

void XmlStringFree::operator()(xmlChar* text) const {
  xmlFree(text);
}

Result<DocPtr> SafeParse(std::string_view text, std::string_view origin, std::size_t max_bytes) {
  const std::string where(origin);
  if (text.size() > max_bytes) {
    return Fail(ErrorKind::kInvalidInput, where + ": XML input is " + std::to_string(text.size()) +
                                              " bytes, more than the limit of " +
                                              std::to_string(max_bytes) + " bytes");
  }
  xmlInitParser();
  ParserCtxtPtr ctxt(xmlNewParserCtxt());
  if (!ctxt || ctxt->sax == nullptr) {
    return Fail(ErrorKind::kSystem, where + ": cannot allocate an XML parser");
  }
  ParseReport report;
  ctxt->_private = &report;
  ctxt->sax->serror = OnError;
  ctxt->sax->internalSubset = OnDoctype;
  ctxt->sax->entityDecl = OnEntityDecl;

  // Blanks are kept so that everything the project does not own is written
  // back as it came. Deliberately absent: XML_PARSE_NOENT (entity
  // substitution), XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR, XML_PARSE_DTDVALID,
  // XML_PARSE_HUGE, XML_PARSE_XINCLUDE.
  constexpr int kOptions = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  DocPtr doc(xmlCtxtReadMemory(ctxt.get(), text.data(), static_cast<int>(text.size()), nullptr,
                               nullptr, kOptions));
  if (report.doctype) {
    return Fail(ErrorKind::kInvalidInput,
                where + ": refusing XML with a DOCTYPE or entity declaration at " +
                    *report.doctype + " (a libvirt domain never has one)");
  }
  if (report.first_error) {
    return Fail(ErrorKind::kInvalidInput, where + ": malformed XML at " + *report.first_error);
  }
  if (!doc || ctxt->wellFormed == 0 || ctxt->nsWellFormed == 0) {
    return Fail(ErrorKind::kInvalidInput, where + ": malformed XML");
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return Fail(ErrorKind::kInvalidInput, where + ": refusing XML with a DOCTYPE");
  }
  if (xmlDocGetRootElement(doc.get()) == nullptr) {
    return Fail(ErrorKind::kInvalidInput, where + ": malformed XML: no root element");
  }
  return doc;
}

}  // namespace nvh::xml
