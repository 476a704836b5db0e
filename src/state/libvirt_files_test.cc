#include "state/libvirt_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

namespace fs = std::filesystem;

// Written by libvirt 9.0 (session daemon, QEMU 7.2) for a domain with an
// nvdimm and a qcow2 disk: `virsh snapshot-create-as snapdom s-running` while
// it ran, `s-shutoff` after `virsh destroy`, `s-diskonly --disk-only`.
const std::string kData = std::string(NVH_SOURCE_DIR) + "/tests/data/libvirt-snapshot";
constexpr char kDomainUuid[] = "11111111-2222-3333-4444-555555555555";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SnapshotXml, RealLibvirtFilesSayWhichCarryMemory) {
  auto running = ParseSnapshotXml(Slurp(kData + "/s-running.xml"), "s-running.xml");
  ASSERT_TRUE(running) << running.error().message;
  EXPECT_EQ(running->name, "s-running");
  EXPECT_EQ(running->state, "running");
  EXPECT_EQ(running->memory, "internal");
  EXPECT_EQ(running->domain_uuid, kDomainUuid);
  EXPECT_EQ(running->domain_name, "snapdom");
  EXPECT_TRUE(running->HasMemory());
  for (const char* name : {"s-shutoff", "s-diskonly"}) {
    auto disk = ParseSnapshotXml(Slurp(kData + "/" + name + ".xml"), name);
    ASSERT_TRUE(disk) << disk.error().message;
    EXPECT_EQ(disk->memory, "no") << name;
    EXPECT_EQ(disk->state, "shutoff") << name;
    EXPECT_FALSE(disk->HasMemory()) << name;
  }
}

TEST(SnapshotXml, ShapesWithoutAMemoryElementFollowTheState) {
  const auto make = [](const std::string& state, const std::string& memory) {
    return "<domainsnapshot><name>s</name><state>" + state + "</state>" + memory +
           "<domain><name>d</name><uuid>AAAAAAAA-2222-3333-4444-555555555555</uuid></domain>"
           "</domainsnapshot>";
  };
  auto paused = ParseSnapshotXml(make("paused", ""), "t");
  ASSERT_TRUE(paused);
  EXPECT_TRUE(paused->HasMemory());
  EXPECT_EQ(paused->domain_uuid, "aaaaaaaa-2222-3333-4444-555555555555");
  auto external = ParseSnapshotXml(make("running", "<memory snapshot='external' file='/x'/>"), "t");
  ASSERT_TRUE(external);
  EXPECT_TRUE(external->HasMemory());
  auto disk = ParseSnapshotXml(make("disk-snapshot", ""), "t");
  ASSERT_TRUE(disk);
  EXPECT_FALSE(disk->HasMemory());
}

TEST(SnapshotXml, BadFilesAreErrorsNamingThem) {
  for (const char* text :
       {"<domain/>", "<domainsnapshot><name>s</name></domainsnapshot>", "not xml",
        "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domainsnapshot/>"}) {
    auto parsed = ParseSnapshotXml(text, "bad.xml");
    ASSERT_FALSE(parsed) << text;
    EXPECT_NE(parsed.error().message.find("bad.xml"), std::string::npos) << parsed.error().message;
  }
}

TEST(StatusXml, NamesTheNvdimmsOfTheLiveDomain) {
  auto live = ParseStatusXml(
      "<domstatus state='running' pid='150'><domain type='qemu'><name>hotdom</name>"
      "<uuid>11111111-2222-3333-4444-666666666666</uuid><devices>"
      "<memory model='nvdimm' access='shared'><source><path>/dev/dax0.0</path></source></memory>"
      "<memory model='dimm'><target><size>1</size></target></memory>"
      "<memory model='nvdimm'><source><path>/dev/dax1.0</path></source></memory>"
      "</devices></domain></domstatus>",
      "hotdom.xml");
  ASSERT_TRUE(live) << live.error().message;
  EXPECT_EQ(live->name, "hotdom");
  EXPECT_EQ(live->uuid, "11111111-2222-3333-4444-666666666666");
  EXPECT_EQ(live->nvdimm_paths, (std::vector<std::string>{"/dev/dax0.0", "/dev/dax1.0"}));
}

class ScanTest : public testing::Test {
 protected:
  std::string Put(const std::string& relative, const std::string& text) {
    const fs::path path = fs::path(dir_.path()) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  ScopedTempDir dir_;
};

TEST_F(ScanTest, FindsSnapshotsByTheUuidInsideNotByDirectoryName) {
  // The directory is named after another domain: only the uuid counts.
  Put("snap/some-other-name/s-running.xml", Slurp(kData + "/s-running.xml"));
  Put("snap/snapdom/s-shutoff.xml", Slurp(kData + "/s-shutoff.xml"));
  Put("snap/snapdom/garbage.xml", "<<<");
  Put("snap/snapdom/notes.txt", "not a snapshot");
  fs::create_symlink("/etc", fs::path(dir_.path()) / "snap/link");
  const auto scan = ScanSnapshots({dir_.path() + "/snap", dir_.path() + "/missing"});
  EXPECT_EQ(scan.found.size(), 2u);
  EXPECT_EQ(scan.skipped.size(), 1u);  // garbage.xml
  EXPECT_TRUE(scan.unreadable.empty());
  const auto memory = MemorySnapshotsOf(scan, "11111111-2222-3333-4444-555555555555");
  ASSERT_EQ(memory.size(), 1u);
  EXPECT_EQ(memory[0].name, "s-running");
  EXPECT_NE(memory[0].file.find("some-other-name/s-running.xml"), std::string::npos);
  EXPECT_TRUE(MemorySnapshotsOf(scan, "11111111-2222-3333-4444-000000000000").empty());
  // The hook's scan of one domain parses only that domain's files.
  const auto one = ScanSnapshots({dir_.path() + "/snap"}, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(one.found.size(), 2u);
  EXPECT_TRUE(one.skipped.empty());  // garbage.xml does not name the uuid
  EXPECT_TRUE(
      ScanSnapshots({dir_.path() + "/snap"}, "11111111-2222-3333-4444-000000000000").found.empty());
}

TEST_F(ScanTest, AConfiguredDirectoryThatCannotBeListedIsReported) {
  const std::string not_a_dir = Put("snapshot-file", "x");
  const auto scan = ScanSnapshots({not_a_dir});
  ASSERT_EQ(scan.unreadable.size(), 1u);
  EXPECT_NE(scan.unreadable[0].find(not_a_dir), std::string::npos) << scan.unreadable[0];
}

TEST_F(ScanTest, LiveDomainsComeFromTheStatusFiles) {
  Put("run/a.xml",
      "<domstatus><domain><name>a</name><uuid>11111111-2222-3333-4444-666666666666</uuid>"
      "<devices><memory model='nvdimm'><source><path>/dev/dax0.0</path></source></memory>"
      "</devices></domain></domstatus>");
  Put("run/a.pid", "150");
  const auto scan = ScanLiveDomains({dir_.path() + "/run"});
  ASSERT_EQ(scan.found.size(), 1u);
  EXPECT_EQ(scan.found[0].nvdimm_paths, std::vector<std::string>{"/dev/dax0.0"});
}

}  // namespace
}  // namespace nvh
