#include "xml/annotation_xml.h"

#include <gtest/gtest.h>

#include <string>

#include "core/sizing.h"
#include "xml/domain_xml.h"

namespace nvh {
namespace {

::testing::AssertionResult Contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found in:\n" << text;
}

constexpr char kUuid[] = "6e9c1f0a-2b3c-4d5e-8f70-1a2b3c4d5e6f";
constexpr char kOpen[] = "<nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\">";
constexpr char kClose[] = "</nvdimm:nvdimms>";

std::string Domain(const std::string& metadata) {
  return "<domain type='kvm'>\n"
         "  <name>vm1</name>\n"
         "  <uuid>5b4f6a2e-3c1d-4e8f-9a7b-0c2d4e6f8a1b</uuid>\n" +
         metadata +
         "  <memory unit='KiB'>1048576</memory>\n"
         "  <devices>\n"
         "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
         "  </devices>\n"
         "</domain>\n";
}

std::string WithMetadata(const std::string& inside) {
  return Domain("  <metadata>\n    " + inside + "\n  </metadata>\n");
}

// One annotation element with the given entries, as virsh metadata writes it.
std::string WithEntries(const std::string& entries) {
  return WithMetadata(std::string(kOpen) + entries + kClose);
}

DomainXml ParseOk(const std::string& text) {
  auto xml = DomainXml::Parse(text, "vm1.xml");
  EXPECT_TRUE(xml.has_value()) << (xml ? "" : xml.error().message);
  return std::move(*xml);
}

std::optional<Annotation> ReadOk(const std::string& text) {
  auto domain = ParseOk(text).Read();
  EXPECT_TRUE(domain.has_value()) << (domain ? "" : domain.error().message);
  return domain ? domain->annotation : std::nullopt;
}

// The Read() error for `text`; every message names the domain.
std::string ErrorOf(const std::string& text) {
  auto domain = ParseOk(text).Read();
  EXPECT_FALSE(domain.has_value());
  if (domain) return {};
  EXPECT_EQ(domain.error().kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(Contains(domain.error().message, "domain 'vm1': "));
  return domain.error().message;
}

std::string EntryError(const std::string& entry) {
  return ErrorOf(WithEntries(entry));
}

// ---------------------------------------------------------------- reading

TEST(AnnotationXmlRead, AbsentAnnotationIsNullopt) {
  EXPECT_FALSE(ReadOk(Domain("")).has_value());
  EXPECT_FALSE(ReadOk(WithMetadata("<app:x xmlns:app=\"urn:app\"/>")).has_value());
}

TEST(AnnotationXmlRead, ReadsPrefixedFormAsVirshWritesIt) {
  const auto annotation =
      ReadOk(WithEntries("\n      <nvdimm:nvdimm uuid=\"" + std::string(kUuid) +
                         "\" node=\"2\" label=\"256KiB\"/>\n"
                         "      <nvdimm:nvdimm namespace=\"namespace0.1\" label=\"131072\"/>\n"
                         "      <!-- the fsdax one -->\n"
                         "      <nvdimm:nvdimm path=\"/dev/pmem0.1\"/>\n    "));
  ASSERT_TRUE(annotation.has_value());
  EXPECT_EQ(annotation->entries,
            (std::vector<NvdimmRequest>{
                {SelectorKind::kUuid, kUuid, 2, 256 * KiB},
                {SelectorKind::kNamespace, "namespace0.1", std::nullopt, 128 * KiB},
                {SelectorKind::kPath, "/dev/pmem0.1", std::nullopt, std::nullopt},
            }));
}

TEST(AnnotationXmlRead, DefaultNamespaceFormIsTheSame) {
  const auto annotation = ReadOk(WithMetadata(
      "<nvdimms xmlns=\"urn:nvdimm-hook:1\"><nvdimm namespace=\"namespace1.0\" node=\"1\"/>"
      "</nvdimms>"));
  ASSERT_TRUE(annotation.has_value());
  EXPECT_EQ(
      annotation->entries,
      (std::vector<NvdimmRequest>{{SelectorKind::kNamespace, "namespace1.0", 1, std::nullopt}}));
}

TEST(AnnotationXmlRead, MatchesByUriNotPrefix) {
  // Our URI under another prefix is ours.
  const auto ours = ReadOk(WithMetadata(
      "<x:nvdimms xmlns:x=\"urn:nvdimm-hook:1\"><x:nvdimm path=\"/dev/dax0.0\"/></x:nvdimms>"));
  ASSERT_TRUE(ours.has_value());
  EXPECT_EQ(ours->entries.size(), 1u);
  // Our prefix bound to another URI is somebody else's, and left alone.
  EXPECT_FALSE(ReadOk(WithMetadata("<nvdimm:nvdimms xmlns:nvdimm=\"urn:other\">"
                                   "<nvdimm:nvdimm bogus=\"1\"/></nvdimm:nvdimms>"))
                   .has_value());
}

TEST(AnnotationXmlRead, EmptyElementIsAnEmptyAnnotation) {
  const auto annotation = ReadOk(WithEntries("\n    "));
  ASSERT_TRUE(annotation.has_value());
  EXPECT_TRUE(annotation->entries.empty());
}

TEST(AnnotationXmlRead, UuidIsNormalisedToLowerCase) {
  const auto annotation =
      ReadOk(WithEntries("<nvdimm:nvdimm uuid=\"6E9C1F0A-2B3C-4D5E-8F70-1A2B3C4D5E6F\"/>"));
  ASSERT_TRUE(annotation.has_value());
  EXPECT_EQ(annotation->entries.at(0).value, kUuid);
}

// ---------------------------------------------------------------- strictness

TEST(AnnotationXmlStrict, TwoSelectors) {
  const std::string message =
      EntryError("<nvdimm:nvdimm uuid=\"" + std::string(kUuid) + "\" path=\"/dev/dax0.0\"/>");
  EXPECT_TRUE(Contains(message, kUuid));
  EXPECT_TRUE(Contains(message, "path=\"/dev/dax0.0\""));
  EXPECT_TRUE(Contains(message, "two selectors (uuid and path)"));
}

TEST(AnnotationXmlStrict, NoSelector) {
  const std::string message = EntryError("<nvdimm:nvdimm node=\"3\"/>");
  EXPECT_TRUE(Contains(message, "<nvdimm:nvdimm node=\"3\">: no selector"));
}

TEST(AnnotationXmlStrict, UnknownAttribute) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/dax0.0\" size=\"1G\"/>");
  EXPECT_TRUE(Contains(message, "unknown attribute size=\"1G\""));
  EXPECT_TRUE(Contains(message, "/dev/dax0.0"));
}

TEST(AnnotationXmlStrict, NamespacedAttribute) {
  const std::string message = EntryError("<nvdimm:nvdimm nvdimm:path=\"/dev/dax0.0\"/>");
  EXPECT_TRUE(Contains(message, "unknown attribute nvdimm:path=\"/dev/dax0.0\""));
}

TEST(AnnotationXmlStrict, AttributeOnContainer) {
  const std::string message =
      ErrorOf(WithMetadata("<nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\" version=\"2\">"
                           "<nvdimm:nvdimm path=\"/dev/dax0.0\"/></nvdimm:nvdimms>"));
  EXPECT_TRUE(Contains(message, "unknown attribute version=\"2\""));
}

TEST(AnnotationXmlStrict, EmptyValue) {
  const std::string message = EntryError("<nvdimm:nvdimm uuid=\"\"/>");
  EXPECT_TRUE(Contains(message, "<nvdimm:nvdimm uuid=\"\">: empty uuid=\"\""));
}

TEST(AnnotationXmlStrict, MalformedUuid) {
  const std::string message =
      EntryError("<nvdimm:nvdimm uuid=\"6e9c1f0a2b3c4d5e8f701a2b3c4d5e6f\"/>");
  EXPECT_TRUE(Contains(message, "uuid \"6e9c1f0a2b3c4d5e8f701a2b3c4d5e6f\" is not a UUID"));
}

TEST(AnnotationXmlStrict, UuidWithNonHexDigit) {
  const std::string message =
      EntryError("<nvdimm:nvdimm uuid=\"6e9c1f0a-2b3c-4d5e-8f70-1a2b3c4d5e6g\"/>");
  EXPECT_TRUE(Contains(message, "6e9c1f0a-2b3c-4d5e-8f70-1a2b3c4d5e6g"));
}

TEST(AnnotationXmlStrict, NamespaceNotAnNdctlName) {
  const std::string message = EntryError("<nvdimm:nvdimm namespace=\"ns0\"/>");
  EXPECT_TRUE(Contains(message, "namespace \"ns0\" is not an ndctl namespace device name"));
}

TEST(AnnotationXmlStrict, RelativePath) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"dax0.0\"/>");
  EXPECT_TRUE(Contains(message, "path \"dax0.0\" is not absolute"));
}

TEST(AnnotationXmlStrict, PathWithDotDot) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/../etc/shadow\"/>");
  EXPECT_TRUE(Contains(message, "path \"/dev/../etc/shadow\" is not canonical"));
}

TEST(AnnotationXmlStrict, PathOutsideDev) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/var/lib/images/pmem.img\"/>");
  EXPECT_TRUE(Contains(message, "path \"/var/lib/images/pmem.img\" is not under /dev/"));
}

TEST(AnnotationXmlStrict, NegativeNode) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/dax0.0\" node=\"-1\"/>");
  EXPECT_TRUE(Contains(message, "node \"-1\" is not a guest NUMA node number (0-255)"));
}

TEST(AnnotationXmlStrict, NonNumericNode) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/dax0.0\" node=\"abc\"/>");
  EXPECT_TRUE(Contains(message, "node \"abc\""));
}

TEST(AnnotationXmlStrict, NodeTooLarge) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/dax0.0\" node=\"256\"/>");
  EXPECT_TRUE(Contains(message, "node \"256\""));
}

TEST(AnnotationXmlStrict, LabelBelowMinimum) {
  const std::string message =
      EntryError("<nvdimm:nvdimm namespace=\"namespace0.0\" label=\"64KiB\"/>");
  EXPECT_EQ(message,
            "domain 'vm1': <nvdimm:nvdimm namespace=\"namespace0.0\" label=\"64KiB\">: label 64 "
            "KiB is below the 128 KiB minimum");
}

TEST(AnnotationXmlStrict, LabelNotMultipleOf4KiB) {
  const std::string message =
      EntryError("<nvdimm:nvdimm namespace=\"namespace0.0\" label=\"130KiB\"/>");
  EXPECT_TRUE(Contains(message, "label=\"130KiB\""));
  EXPECT_TRUE(Contains(message, "label 130 KiB is not a multiple of 4 KiB"));
}

TEST(AnnotationXmlStrict, LabelNotASize) {
  const std::string message =
      EntryError("<nvdimm:nvdimm namespace=\"namespace0.0\" label=\"128 KiB\"/>");
  EXPECT_TRUE(Contains(message, "label \"128 KiB\""));
}

TEST(AnnotationXmlStrict, DuplicateEntry) {
  const std::string message =
      EntryError("<nvdimm:nvdimm uuid=\"" + std::string(kUuid) +
                 "\"/><nvdimm:nvdimm uuid=\"6E9C1F0A-2B3C-4D5E-8F70-1A2B3C4D5E6F\" node=\"1\"/>");
  EXPECT_TRUE(Contains(message, "duplicate entry uuid=\"" + std::string(kUuid) + "\""));
}

TEST(AnnotationXmlStrict, TwoAnnotationElements) {
  const std::string message = ErrorOf(WithMetadata(
      std::string(kOpen) + "<nvdimm:nvdimm path=\"/dev/dax0.0\"/>" + kClose +
      "<nv:nvdimms xmlns:nv=\"urn:nvdimm-hook:1\"><nv:nvdimm path=\"/dev/dax1.0\"/></nv:nvdimms>"));
  EXPECT_TRUE(Contains(message, "2 elements in namespace urn:nvdimm-hook:1"));
  EXPECT_TRUE(Contains(message, "<nv:nvdimms>"));
}

TEST(AnnotationXmlStrict, WrongElementInOurNamespace) {
  const std::string message = ErrorOf(
      WithMetadata("<nvdimm:nvdimm xmlns:nvdimm=\"urn:nvdimm-hook:1\" path=\"/dev/dax0.0\"/>"));
  EXPECT_TRUE(Contains(message, "<nvdimm:nvdimm path=\"/dev/dax0.0\">: unexpected element"));
}

TEST(AnnotationXmlStrict, ForeignElementInside) {
  const std::string message = EntryError("<app:hint xmlns:app=\"urn:app\" path=\"/dev/dax0.0\"/>");
  EXPECT_TRUE(
      Contains(message, "unexpected element <app:hint path=\"/dev/dax0.0\"> in namespace urn:app"));
}

TEST(AnnotationXmlStrict, EntryWithoutNamespace) {
  const std::string message = ErrorOf(
      WithMetadata(std::string(kOpen) + "<nvdimm xmlns=\"\" path=\"/dev/dax9.9\"/>" + kClose));
  EXPECT_TRUE(
      Contains(message, "unexpected element <nvdimm path=\"/dev/dax9.9\"> in no namespace"));
}

TEST(AnnotationXmlStrict, PrefixReboundToOtherUriInside) {
  const std::string message =
      EntryError("<nvdimm:nvdimm xmlns:nvdimm=\"urn:other\" path=\"/dev/dax0.0\"/>");
  EXPECT_TRUE(Contains(message, "<nvdimm:nvdimm path=\"/dev/dax0.0\"> in namespace urn:other"));
}

TEST(AnnotationXmlStrict, TextContent) {
  const std::string message = EntryError("<nvdimm:nvdimm path=\"/dev/dax0.0\"/>dax1.0");
  EXPECT_TRUE(Contains(message, "unexpected text \"dax1.0\""));
}

TEST(AnnotationXmlStrict, ContentInsideEntry) {
  const std::string message = EntryError(
      "<nvdimm:nvdimm path=\"/dev/dax0.0\"><nvdimm:label>256KiB</nvdimm:label>"
      "</nvdimm:nvdimm>");
  EXPECT_TRUE(
      Contains(message, "<nvdimm:nvdimm path=\"/dev/dax0.0\">: unexpected element <nvdimm:label>"));
}

TEST(AnnotationXmlRead, HotplugBlockOnTheContainer) {
  auto read = [](const std::string& value) {
    return ReadOk(
        WithMetadata("<nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\" "
                     "hotplug-block=\"" +
                     value + "\"><nvdimm:nvdimm path=\"/dev/dax0.0\"/></nvdimm:nvdimms>"));
  };
  EXPECT_EQ(read("1GiB")->hotplug_block, GiB);
  EXPECT_EQ(read("512M")->hotplug_block, 512 * MiB);
  EXPECT_EQ(read("none")->hotplug_block, 0u);
  EXPECT_FALSE(ReadOk(WithEntries("<nvdimm:nvdimm path=\"/dev/dax0.0\"/>"))->hotplug_block);
}

TEST(AnnotationXmlStrict, HotplugBlockNotAPowerOfTwo) {
  for (const char* bad : {"3GiB", "1MiB", "128GiB", "lots", "None"}) {
    SCOPED_TRACE(bad);
    const std::string message = ErrorOf(WithMetadata(
        "<nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\" hotplug-block=\"" + std::string(bad) +
        "\"><nvdimm:nvdimm path=\"/dev/dax0.0\"/></nvdimm:nvdimms>"));
    EXPECT_TRUE(Contains(message, "hotplug-block \"" + std::string(bad) + "\""));
  }
}

// ---------------------------------------------------------------- writing

TEST(AnnotationXmlWrite, HotplugBlockRoundTrips) {
  for (std::uint64_t block : {std::uint64_t{0}, GiB}) {
    DomainXml xml = ParseOk(Domain(""));
    Annotation annotation{{{SelectorKind::kPath, "/dev/dax1.0", std::nullopt, std::nullopt}}};
    annotation.hotplug_block = block;
    xml.SetAnnotation(annotation);
    const std::string text = xml.Serialize();
    EXPECT_TRUE(Contains(text, block ? "hotplug-block=\"1GiB\"" : "hotplug-block=\"none\""));
    EXPECT_EQ(ReadOk(text), annotation);
  }
}

TEST(AnnotationXmlWrite, RoundTripsThroughText) {
  DomainXml xml = ParseOk(Domain(""));
  const Annotation annotation{{
      {SelectorKind::kUuid, kUuid, 1, 256 * KiB},
      {SelectorKind::kNamespace, "namespace0.1", std::nullopt, std::nullopt},
      {SelectorKind::kPath, "/dev/dax1.0", 0, 128 * KiB},
  }};
  xml.SetAnnotation(annotation);
  const std::string text = xml.Serialize();
  EXPECT_TRUE(
      Contains(text,
               "  <uuid>5b4f6a2e-3c1d-4e8f-9a7b-0c2d4e6f8a1b</uuid>\n"
               "  <metadata>\n"
               "    <nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\">\n"
               "      <nvdimm:nvdimm uuid=\"6e9c1f0a-2b3c-4d5e-8f70-1a2b3c4d5e6f\" node=\"1\" "
               "label=\"256KiB\"/>\n"
               "      <nvdimm:nvdimm namespace=\"namespace0.1\"/>\n"
               "      <nvdimm:nvdimm path=\"/dev/dax1.0\" node=\"0\" label=\"128KiB\"/>\n"
               "    </nvdimm:nvdimms>\n"
               "  </metadata>\n"
               "  <memory unit=\"KiB\">1048576</memory>\n"));
  EXPECT_EQ(ReadOk(text), annotation);
}

TEST(AnnotationXmlWrite, ReplacesInPlaceAndKeepsOtherMetadata) {
  DomainXml xml = ParseOk(WithMetadata("<app:x xmlns:app=\"urn:app\"/>\n    " + std::string(kOpen) +
                                       "<nvdimm:nvdimm path=\"/dev/dax0.0\"/>" + kClose +
                                       "\n    <other:y xmlns:other=\"urn:other\"/>"));
  const Annotation annotation{{{SelectorKind::kPath, "/dev/dax1.0", std::nullopt, std::nullopt}}};
  xml.SetAnnotation(annotation);
  const std::string text = xml.Serialize();
  EXPECT_TRUE(Contains(text,
                       "  <metadata>\n"
                       "    <app:x xmlns:app=\"urn:app\"/>\n"
                       "    <nvdimm:nvdimms xmlns:nvdimm=\"urn:nvdimm-hook:1\">\n"
                       "      <nvdimm:nvdimm path=\"/dev/dax1.0\"/>\n"
                       "    </nvdimm:nvdimms>\n"
                       "    <other:y xmlns:other=\"urn:other\"/>\n"
                       "  </metadata>\n"));
  EXPECT_EQ(ReadOk(text), annotation);
}

TEST(AnnotationXmlWrite, ReplacesBothOfTwoElementsWithOne) {
  DomainXml xml = ParseOk(
      WithMetadata(std::string(kOpen) + kClose + "<nv:nvdimms xmlns:nv=\"urn:nvdimm-hook:1\"/>"));
  const Annotation annotation{
      {{SelectorKind::kNamespace, "namespace0.0", std::nullopt, std::nullopt}}};
  xml.SetAnnotation(annotation);
  EXPECT_EQ(ReadOk(xml.Serialize()), annotation);
}

TEST(AnnotationXmlWrite, EmptyAnnotationRemovesOnlyOurElement) {
  DomainXml xml = ParseOk(WithMetadata("<app:x xmlns:app=\"urn:app\"/>\n    " + std::string(kOpen) +
                                       "<nvdimm:nvdimm path=\"/dev/dax0.0\"/>" + kClose));
  xml.SetAnnotation(Annotation{});
  const std::string text = xml.Serialize();
  EXPECT_TRUE(Contains(text, "  <metadata>\n    <app:x xmlns:app=\"urn:app\"/>\n  </metadata>\n"));
  EXPECT_FALSE(ReadOk(text).has_value());
}

TEST(AnnotationXmlWrite, EmptyAnnotationDropsMetadataItEmptied) {
  DomainXml xml = ParseOk(WithEntries("<nvdimm:nvdimm path=\"/dev/dax0.0\"/>"));
  xml.SetAnnotation(Annotation{});
  const std::string text = xml.Serialize();
  EXPECT_FALSE(Contains(text, "metadata"));
  EXPECT_EQ(text, ParseOk(Domain("")).Serialize());
}

TEST(AnnotationXmlWrite, SetTwiceIsStable) {
  DomainXml xml = ParseOk(Domain(""));
  const Annotation annotation{{{SelectorKind::kUuid, kUuid, std::nullopt, std::nullopt}}};
  xml.SetAnnotation(annotation);
  const std::string once = xml.Serialize();
  xml.SetAnnotation(annotation);
  EXPECT_EQ(xml.Serialize(), once);
}

TEST(AnnotationXmlCheck, CheckRequestMatchesReader) {
  EXPECT_TRUE(xml::CheckRequest({SelectorKind::kPath, "/dev/dax0.0", 0, 128 * KiB}).has_value());
  auto label = xml::CheckRequest({SelectorKind::kPath, "/dev/dax0.0", 0, 64 * KiB});
  ASSERT_FALSE(label.has_value());
  EXPECT_EQ(label.error().message, "label 64 KiB is below the 128 KiB minimum");
  auto node = xml::CheckRequest({SelectorKind::kUuid, kUuid, -1, std::nullopt});
  ASSERT_FALSE(node.has_value());
  EXPECT_TRUE(Contains(node.error().message, "node -1"));
  EXPECT_EQ(xml::FormatLabel(128 * KiB), "128KiB");
  EXPECT_EQ(xml::FormatLabel(2 * MiB), "2MiB");
}

}  // namespace
}  // namespace nvh
