#include "guard/fast_path.h"

#include <gtest/gtest.h>

#include <string>

#include "guard/relevance.h"

namespace nvh::fast_path {
namespace {

constexpr const char* kOps[] = {"prepare",   "start",   "started", "migrate", "restore",
                                "reconnect", "stopped", "release", "attach",  ""};

TEST(FastPath, GuardedAndRefusingOperationsAreLibvirtsNames) {
  for (const char* op : {"prepare", "start", "migrate", "restore"}) {
    EXPECT_TRUE(IsGuardedOperation(op)) << op;
    EXPECT_TRUE(MayRefuse(op)) << op;
  }
  for (const char* op : {"reconnect", "stopped", "release"}) {
    EXPECT_TRUE(IsGuardedOperation(op)) << op;
    EXPECT_FALSE(MayRefuse(op)) << op;  // libvirt would kill QEMU or ignore it
  }
  for (const char* op : {"started", "attach", "Prepare", "prepare ", ""}) {
    EXPECT_FALSE(IsGuardedOperation(op)) << op;
    EXPECT_FALSE(MayRefuse(op)) << op;
  }
}

TEST(FastPath, FullHookUsesTheSameDefinitions) {
  for (const char* op : kOps) EXPECT_EQ(nvh::IsGuardedOperation(op), IsGuardedOperation(op)) << op;
  for (const char* xml : {"<domain/>", "<nvdimm/>", "urn:nvdimm-hook:1", "NVDIMM", "nvdim"}) {
    EXPECT_EQ(nvh::MayConcernNvdimm(xml), MayConcernNvdimm(xml)) << xml;
  }
}

TEST(FastPath, KeepsOneByteMoreThanTheLimit) {
  EXPECT_EQ(kKeptXmlBytes, std::size_t{10} * 1024 * 1024 + 1);
}

TEST(FastPath, EntryAllowsWhatTheFullHookAllowsWithoutParsing) {
  const std::string plain = "<domain><name>vm</name><devices/></domain>";
  for (const char* op : kOps) {
    EXPECT_EQ(Decide(5, op, plain, false), FirstDecision::kAllow) << op;
  }
  // Case matters, as in the full hook's search.
  EXPECT_EQ(Decide(5, "prepare", "<domain>NVDIMM</domain>", false), FirstDecision::kAllow);
}

TEST(FastPath, EntryHandsOverEveryGuardedOperationThatMentionsNvdimm) {
  for (const char* xml : {"<memory model='nvdimm'/>", "<x xmlns='urn:nvdimm-hook:1'/>",
                          "<description>no nvdimm here</description>"}) {
    for (const char* op : kOps) {
      EXPECT_EQ(Decide(5, op, xml, false),
                IsGuardedOperation(op) ? FirstDecision::kFullCheck : FirstDecision::kAllow)
          << op << " " << xml;
    }
  }
}

TEST(FastPath, EntryHandsOverBadUsageUntouched) {
  for (int argc : {0, 1, 4, 6}) {
    EXPECT_EQ(Decide(argc, "prepare", "", false), FirstDecision::kFullCheck) << argc;
  }
}

TEST(FastPath, ReadErrorNeverAllowsWhereARefusalStopsTheStart) {
  for (const char* xml : {"", "<domain>", "<memory model='nvdimm'/>"}) {
    for (const char* op : {"prepare", "start", "migrate", "restore"}) {
      EXPECT_EQ(Decide(5, op, xml, true), FirstDecision::kRefuse) << op;
    }
    // Elsewhere a non-zero exit only does harm: the full hook gets what was
    // read, and always exits 0 for these.
    for (const char* op : {"reconnect", "stopped", "release"}) {
      EXPECT_EQ(Decide(5, op, xml, true), FirstDecision::kFullCheck) << op;
    }
    EXPECT_EQ(Decide(5, "started", xml, true), FirstDecision::kAllow);
  }
}

TEST(FastPath, FailedHandOverRefusesOnlyWhereThatStopsTheStart) {
  for (const char* op : kOps) EXPECT_EQ(HandOverFailedExit(op), MayRefuse(op) ? 1 : 0) << op;
}

// The search covers exactly the kept prefix, as the full hook's.
TEST(FastPath, EntrySearchesTheKeptPrefixOnly) {
  std::string xml(kKeptXmlBytes - 3, ' ');
  xml += "nvdimm";
  EXPECT_EQ(Decide(5, "prepare", std::string_view(xml).substr(0, kKeptXmlBytes), false),
            FirstDecision::kAllow);
  EXPECT_EQ(Decide(5, "prepare", xml, false), FirstDecision::kFullCheck);
}

}  // namespace
}  // namespace nvh::fast_path
