#include "ndctl/json_inventory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "util/scoped_temp_dir.h"

namespace nvh {
namespace {

using Json = nlohmann::json;

const std::string kEmulated =
    std::string(NVH_SOURCE_DIR) + "/tests/data/ndctl-list-N-v.emulated.json";

// The real `ndctl list -N -v` output of the emulated host (FACTS.md "Data"),
// in file order: sector, fsdax, raw, devdax.
Json Emulated() {
  std::ifstream in(kEmulated);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

// A file of this test's own in a directory removed when the tests end.
std::string TempPath(const std::string& suffix = ".json") {
  static const ScopedTempDir dir;
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  return dir.path() + "/" + info->name() + suffix;
}

std::string WriteFile(const std::string& text, const std::string& suffix = ".json") {
  const std::string path = TempPath(suffix);
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

std::string WriteJson(const Json& json) {
  return WriteFile(json.dump(2));
}

Result<HostNamespaces> ListFile(const std::string& path, const std::string& dir = "/dev") {
  return JsonInventory(path, dir).List();
}

// A failed List() of `json` whose message names the file and every `parts`.
void ExpectInvalid(const Json& json, std::initializer_list<std::string> parts) {
  const std::string path = WriteJson(json);
  const auto result = ListFile(path);
  ASSERT_FALSE(result.has_value()) << json.dump();
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find(path), std::string::npos) << result.error().message;
  for (const auto& part : parts) {
    EXPECT_NE(result.error().message.find(part), std::string::npos)
        << "'" << part << "' not in: " << result.error().message;
  }
}

TEST(JsonInventoryTest, EmulatedHostEveryField) {
  const auto result = ListFile(kEmulated);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->size(), 4u);

  const HostNamespace& sector = (*result)[0];
  EXPECT_EQ(sector.dev, "namespace0.2");
  EXPECT_EQ(sector.mode, NamespaceMode::kSector);
  EXPECT_EQ(sector.size, 267091968u);
  EXPECT_EQ(sector.uuid, "217114c1-f212-4521-972b-bba72a39215d");
  EXPECT_EQ(sector.raw_uuid, "e8a23d5d-4ab7-4323-9ffc-9fdf1aeb66f5");
  EXPECT_EQ(sector.align, 0u);
  EXPECT_EQ(sector.blockdev, "pmem0.2s");
  EXPECT_EQ(sector.chardev, "");
  EXPECT_EQ(sector.map, "");
  EXPECT_EQ(sector.name, "sec0");
  EXPECT_EQ(sector.numa_node, 0);
  EXPECT_TRUE(sector.enabled);
  EXPECT_EQ(sector.DevicePath(), "/dev/pmem0.2s");
  EXPECT_EQ(sector.IdentityKey(), sector.uuid);

  const HostNamespace& fsdax = (*result)[1];
  EXPECT_EQ(fsdax.dev, "namespace0.1");
  EXPECT_EQ(fsdax.mode, NamespaceMode::kFsdax);
  EXPECT_EQ(fsdax.size, 526385152u);
  EXPECT_EQ(fsdax.uuid, "97de326a-2191-416f-a39b-be46247ba991");
  EXPECT_EQ(fsdax.raw_uuid, "1c698f39-33cc-4ddb-bcb0-6b9f8248bae2");
  EXPECT_EQ(fsdax.align, 2097152u);
  EXPECT_EQ(fsdax.blockdev, "pmem0.1");
  EXPECT_EQ(fsdax.chardev, "");
  EXPECT_EQ(fsdax.map, "dev");
  EXPECT_EQ(fsdax.name, "fs0");
  EXPECT_EQ(fsdax.numa_node, 0);
  EXPECT_TRUE(fsdax.enabled);
  EXPECT_EQ(fsdax.DevicePath(), "/dev/pmem0.1");

  const HostNamespace& raw = (*result)[2];
  EXPECT_EQ(raw.dev, "namespace0.3");
  EXPECT_EQ(raw.mode, NamespaceMode::kRaw);
  EXPECT_EQ(raw.size, 268435456u);
  EXPECT_EQ(raw.uuid, "15606a6f-9d79-4624-be77-f4b5741b8f4f");
  EXPECT_EQ(raw.raw_uuid, "");
  EXPECT_EQ(raw.align, 0u);
  EXPECT_EQ(raw.blockdev, "pmem0.3");
  EXPECT_EQ(raw.chardev, "");
  EXPECT_EQ(raw.map, "");
  EXPECT_EQ(raw.name, "raw0");
  EXPECT_EQ(raw.numa_node, 0);
  EXPECT_TRUE(raw.enabled);
  EXPECT_EQ(raw.DevicePath(), "/dev/pmem0.3");

  const HostNamespace& devdax = (*result)[3];
  EXPECT_EQ(devdax.dev, "namespace0.0");
  EXPECT_EQ(devdax.mode, NamespaceMode::kDevdax);
  EXPECT_EQ(devdax.size, 526385152u);
  EXPECT_EQ(devdax.uuid, "c3ced113-e676-47b2-b173-b7f7d08b2206");
  EXPECT_EQ(devdax.raw_uuid, "d176b610-9961-4820-a23e-948cf53cbd23");
  EXPECT_EQ(devdax.align, 2097152u);
  EXPECT_EQ(devdax.blockdev, "");
  EXPECT_EQ(devdax.chardev, "dax0.0");
  EXPECT_EQ(devdax.map, "dev");
  EXPECT_EQ(devdax.name, "dd0");
  EXPECT_EQ(devdax.numa_node, 0);
  EXPECT_TRUE(devdax.enabled);
  EXPECT_TRUE(devdax.IsDax());
  EXPECT_EQ(devdax.DevicePath(), "/dev/dax0.0");
}

TEST(JsonInventoryTest, DeviceDirectoryReplacesDev) {
  const std::string dir = TempPath("-dev");
  ::mkdir(dir.c_str(), 0700);
  for (const std::string& base : {std::string(dir), dir + "/"}) {
    const auto result = ListFile(kEmulated, base);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ((*result)[0].DevicePath(), dir + "/pmem0.2s");
    EXPECT_EQ((*result)[1].DevicePath(), dir + "/pmem0.1");
    EXPECT_EQ((*result)[2].DevicePath(), dir + "/pmem0.3");
    EXPECT_EQ((*result)[3].DevicePath(), dir + "/dax0.0");
  }
}

TEST(JsonInventoryTest, SingleNamespaceObject) {
  // ndctl prints an object, not an array, when there is exactly one.
  const auto result = ListFile(WriteJson(Emulated()[3]));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].dev, "namespace0.0");
  EXPECT_EQ((*result)[0].DevicePath(), "/dev/dax0.0");
}

Json Region(const std::string& dev, const Json& namespaces) {
  Json region = {
      {"dev", dev},          {"size", 2147483648u},       {"align", 16777216},
      {"available_size", 0}, {"max_available_extent", 0}, {"type", "pmem"},
      {"numa_node", 0},      {"target_node", 0},          {"persistence_domain", "unknown"}};
  if (!namespaces.is_null()) region["namespaces"] = namespaces;
  return region;
}

Json Bus(const Json& regions) {
  return {
      {"provider", "ACPI.NFIT"}, {"dev", "ndbus0"}, {"scrub_state", "idle"}, {"regions", regions}};
}

std::vector<std::string> Devs(const HostNamespaces& namespaces) {
  std::vector<std::string> devs;
  for (const auto& ns : namespaces) devs.push_back(ns.dev);
  return devs;
}

TEST(JsonInventoryTest, RegionNesting) {
  const Json all = Emulated();
  Json other = all[3];
  other["dev"] = "namespace1.0";
  other["uuid"] = "aaaaaaaa-0000-4000-8000-000000000001";
  other["raw_uuid"] = "aaaaaaaa-0000-4000-8000-000000000002";
  other["daxregion"]["devices"][0]["chardev"] = "dax1.0";
  // ndctl list -RN: an array of regions; one region alone is an object.
  // A region whose namespaces are all seeds has no "namespaces" at all.
  const Json regions = Json::array({Region("region0", all), Region("region1", Json::array({other})),
                                    Region("region2", nullptr)});
  auto result = ListFile(WriteJson(regions));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(Devs(*result), (std::vector<std::string>{"namespace0.2", "namespace0.1", "namespace0.3",
                                                     "namespace0.0", "namespace1.0"}));
  EXPECT_EQ((*result)[4].DevicePath(), "/dev/dax1.0");
  EXPECT_EQ((*result)[1].size, 526385152u);

  result = ListFile(WriteJson(Region("region0", all)));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->size(), 4u);

  result = ListFile(WriteJson(Region("region2", nullptr)));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_TRUE(result->empty());
}

TEST(JsonInventoryTest, BusNesting) {
  const Json all = Emulated();
  // ndctl list -BRN with one bus: the bus object; -vv adds "dimms".
  Json bus = Bus(Json::array({Region("region0", all)}));
  bus["dimms"] = Json::array({Json{{"dev", "nmem0"}, {"id", "8680-56341200"}}});
  auto result = ListFile(WriteJson(bus));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->size(), 4u);

  // Several buses: an array of bus objects.
  Json other = all[1];
  other["dev"] = "namespace1.0";
  other["uuid"] = "aaaaaaaa-0000-4000-8000-000000000001";
  other["raw_uuid"] = "aaaaaaaa-0000-4000-8000-000000000002";
  other["blockdev"] = "pmem1";
  Json bus1 = Bus(Json::array({Region("region1", Json::array({other}))}));
  bus1["dev"] = "ndbus1";
  result = ListFile(WriteJson(Json::array({bus, bus1})));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->size(), 5u);
  EXPECT_EQ((*result)[4].DevicePath(), "/dev/pmem1");
}

TEST(JsonInventoryTest, PlatformObjects) {
  const Json all = Emulated();
  // ndctl list -RN -D and ndctl list -N -D print one object with arrays.
  for (const Json& platform :
       {Json{{"regions", Json::array({Region("region0", all)})}}, Json{{"namespaces", all}},
        Json{{"dimms", Json::array({Json{{"dev", "nmem0"}}})}, {"namespaces", all}}}) {
    const auto result = ListFile(WriteJson(platform));
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->size(), 4u) << platform.dump();
  }
}

TEST(JsonInventoryTest, EmptyOutputIsNoNamespaces) {
  // ndctl list prints nothing at all on a host without namespaces.
  for (const std::string& text : {std::string(), std::string("\n"), std::string("[]")}) {
    const auto result = ListFile(WriteFile(text));
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_TRUE(result->empty());
  }
}

TEST(JsonInventoryTest, SeedsSkippedDisabledKept) {
  Json all = Emulated();
  // ndctl list -Ni: the region's seed, disabled with size 0.
  all.push_back({{"dev", "namespace0.4"},
                 {"mode", "raw"},
                 {"size", 0},
                 {"uuid", "00000000-0000-0000-0000-000000000000"},
                 {"sector_size", 512},
                 {"state", "disabled"}});
  // ndctl list -Nc: a configured namespace someone disabled; still has data.
  Json disabled = all[1];
  disabled["dev"] = "namespace0.5";
  disabled["uuid"] = "aaaaaaaa-0000-4000-8000-000000000001";
  disabled["raw_uuid"] = "aaaaaaaa-0000-4000-8000-000000000002";
  disabled.erase("blockdev");
  disabled["state"] = "disabled";
  all.push_back(disabled);
  const auto result = ListFile(WriteJson(all));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->size(), 5u);
  EXPECT_EQ((*result)[4].dev, "namespace0.5");
  EXPECT_FALSE((*result)[4].enabled);
  EXPECT_EQ((*result)[4].DevicePath(), "");
}

TEST(JsonInventoryTest, PlainListChardev) {
  // Without -v ndctl prints the first dax device as "chardev" and no region.
  Json devdax = Emulated()[3];
  devdax.erase("daxregion");
  devdax["chardev"] = "dax0.0";
  const auto result = ListFile(WriteJson(devdax));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ((*result)[0].chardev, "dax0.0");
  EXPECT_EQ((*result)[0].size, 526385152u);
  EXPECT_EQ((*result)[0].DevicePath(), "/dev/dax0.0");
}

TEST(JsonInventoryTest, DaxDeviceSizeIsTheBackingSize) {
  Json devdax = Emulated()[3];
  devdax["daxregion"]["devices"][0]["size"] = 524288000;
  // ndctl list -Nvc also shows size-0 seed devices of a dax region.
  devdax["daxregion"]["devices"].push_back({{"chardev", "dax0.1"}, {"size", 0}});
  const auto result = ListFile(WriteJson(devdax));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ((*result)[0].size, 524288000u);
  EXPECT_EQ((*result)[0].chardev, "dax0.0");
}

TEST(JsonInventoryTest, DaxDeviceNotUsableHasNoPath) {
  for (const auto& [key, value] : {std::pair{"mode", "system-ram"}, {"state", "disabled"}}) {
    Json devdax = Emulated()[3];
    devdax["daxregion"]["devices"][0][key] = value;
    const auto result = ListFile(WriteJson(devdax));
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ((*result)[0].chardev, "dax0.0");
    EXPECT_EQ((*result)[0].DevicePath(), "") << key;
  }
}

TEST(JsonInventoryTest, UppercaseUuidIsCanonical) {
  Json raw = Emulated()[2];
  raw["uuid"] = "15606A6F-9D79-4624-BE77-F4B5741B8F4F";
  const auto result = ListFile(WriteJson(raw));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ((*result)[0].uuid, "15606a6f-9d79-4624-be77-f4b5741b8f4f");
}

// --- errors ---------------------------------------------------------------

TEST(JsonInventoryTest, MissingFile) {
  const std::string path = TempPath();
  ::unlink(path.c_str());
  const auto result = ListFile(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find(path), std::string::npos);
  EXPECT_NE(result.error().message.find("No such file or directory"), std::string::npos)
      << result.error().message;
}

TEST(JsonInventoryTest, DirectoryIsUnreadable) {
  const std::string dir = TempPath("-dir");
  ::mkdir(dir.c_str(), 0700);
  const auto result = ListFile(dir);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find(dir + ": cannot read: Is a directory"), std::string::npos)
      << result.error().message;
}

TEST(JsonInventoryTest, TooLarge) {
  const std::string path = WriteFile(std::string(JsonInventory::kMaxFileSize + 1, ' '));
  const auto result = ListFile(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find(path + ": larger than 16 MiB"), std::string::npos)
      << result.error().message;
}

TEST(JsonInventoryTest, MalformedJsonNamesBytePosition) {
  const std::string path = WriteFile("[{\"dev\": \"namespace0.0\",, }]");
  const auto result = ListFile(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(result.error().message.find(path + ": malformed JSON at byte 25"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("line 1, column 25"), std::string::npos)
      << result.error().message;

  // ndctl stopped half way: the text just ends. The parser counts bytes from
  // 1, like its columns, so the end of 100 bytes is byte 101.
  const auto cut = ListFile(WriteFile(Emulated().dump(2).substr(0, 100)));
  ASSERT_FALSE(cut.has_value());
  EXPECT_NE(cut.error().message.find("malformed JSON at byte 101"), std::string::npos)
      << cut.error().message;
}

TEST(JsonInventoryTest, TopLevelNotAnObject) {
  ExpectInvalid(Json(42), {"is a JSON number", "ndctl list -N"});
  ExpectInvalid(Json::array({"namespace0.0"}), {"/0", "is a JSON string"});
}

TEST(JsonInventoryTest, SizeWrongType) {
  Json all = Emulated();
  all[1]["size"] = "big";
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"size\" is \"big\"", "number of bytes"});
  all[1]["size"] = "502.00 MiB (526.39 MB)";
  ExpectInvalid(all, {"namespace 'namespace0.1'", "502.00 MiB", "without -u"});
  all[1]["size"] = 1.5;
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"size\" is 1.5", "whole number"});
}

TEST(JsonInventoryTest, NegativeSizes) {
  Json all = Emulated();
  all[2]["size"] = -268435456;
  ExpectInvalid(all, {"namespace 'namespace0.3'", "\"size\" is -268435456", "negative"});
  all = Emulated();
  all[1]["align"] = -2097152;
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"align\" is -2097152", "negative"});
  all = Emulated();
  all[3]["daxregion"]["devices"][0]["size"] = -1;
  ExpectInvalid(all, {"namespace 'namespace0.0'", "daxregion device 0", "\"size\" is -1"});
}

TEST(JsonInventoryTest, MissingDev) {
  Json all = Emulated();
  all[2].erase("dev");
  ExpectInvalid(all, {"namespace at /2", "no \"dev\""});
  Json bus = Bus(Json::array({Region("region0", Emulated())}));
  bus["regions"][0]["namespaces"][1].erase("dev");
  ExpectInvalid(bus, {"namespace at /regions/0/namespaces/1", "no \"dev\""});
}

TEST(JsonInventoryTest, MissingMode) {
  Json all = Emulated();
  all[0].erase("mode");
  ExpectInvalid(all, {"namespace 'namespace0.2'", "no \"mode\""});
}

TEST(JsonInventoryTest, MissingSize) {
  Json all = Emulated();
  all[3].erase("size");
  ExpectInvalid(all, {"namespace 'namespace0.0'", "no \"size\""});
}

TEST(JsonInventoryTest, UnknownMode) {
  Json all = Emulated();
  all[1]["mode"] = "turbo";
  ExpectInvalid(all, {"namespace 'namespace0.1'", "unknown \"mode\" \"turbo\""});
  all[1]["mode"] = 3;
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"mode\" is 3", "expected a string"});
}

TEST(JsonInventoryTest, DuplicateUuid) {
  Json all = Emulated();
  all[2]["uuid"] = all[0]["uuid"];
  ExpectInvalid(all, {"'namespace0.2' and 'namespace0.3'", "same uuid",
                      "217114c1-f212-4521-972b-bba72a39215d"});
  all = Emulated();
  all[3]["raw_uuid"] = all[1]["raw_uuid"];
  ExpectInvalid(all, {"'namespace0.1' and 'namespace0.0'", "same raw_uuid",
                      "1c698f39-33cc-4ddb-bcb0-6b9f8248bae2"});
}

TEST(JsonInventoryTest, DuplicateDev) {
  const Json all = Emulated();
  ExpectInvalid(Json::array({all[1], all[1]}), {"namespace 'namespace0.1' is listed twice"});
  Json twin = all[1];
  twin["uuid"] = "aaaaaaaa-0000-4000-8000-000000000001";
  twin["raw_uuid"] = "aaaaaaaa-0000-4000-8000-000000000002";
  twin["blockdev"] = "pmem9";
  ExpectInvalid(Json::array({all[1], twin}), {"namespace 'namespace0.1' is listed twice"});
}

TEST(JsonInventoryTest, DuplicateDevicePath) {
  Json all = Emulated();
  all[2]["blockdev"] = "pmem0.1";
  ExpectInvalid(all, {"'namespace0.1' and 'namespace0.3'", "same device", "/dev/pmem0.1"});
}

TEST(JsonInventoryTest, BadUuid) {
  Json all = Emulated();
  all[3]["uuid"] = "../../etc/passwd";
  ExpectInvalid(all,
                {"namespace 'namespace0.0'", "\"uuid\" is \"../../etc/passwd\"", "not a UUID"});
}

TEST(JsonInventoryTest, DeviceNameOutsideDeviceDir) {
  Json all = Emulated();
  all[2]["blockdev"] = "../sda";
  ExpectInvalid(all, {"namespace 'namespace0.3'", "\"blockdev\" is \"../sda\""});
  all = Emulated();
  all[3]["daxregion"]["devices"][0]["chardev"] = "..";
  ExpectInvalid(all, {"namespace 'namespace0.0'", "\"chardev\" is \"..\""});
  all = Emulated();
  all[0]["dev"] = "namespace0.2/x";
  ExpectInvalid(all, {"namespace at /0", "\"dev\" is \"namespace0.2/x\""});
}

TEST(JsonInventoryTest, SeveralDaxDevices) {
  Json all = Emulated();
  all[3]["daxregion"]["devices"].push_back(all[3]["daxregion"]["devices"][0]);
  all[3]["daxregion"]["devices"][1]["chardev"] = "dax0.1";
  ExpectInvalid(all, {"namespace 'namespace0.0'", "2 dax devices (dax0.0, dax0.1)"});
}

TEST(JsonInventoryTest, OtherWrongTypes) {
  Json all = Emulated();
  all[1]["numa_node"] = "zero";
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"numa_node\" is \"zero\""});
  all = Emulated();
  all[1]["map"] = "disk";
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"map\" is \"disk\""});
  all = Emulated();
  all[1]["name"] = Json::array();
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"name\" is []"});
  all = Emulated();
  all[1]["state"] = true;
  ExpectInvalid(all, {"namespace 'namespace0.1'", "\"state\" is true"});
  ExpectInvalid(Json{{"namespaces", Emulated()[0]}}, {"\"namespaces\" is {", "expected an array"});
  ExpectInvalid(Json::array({Json{{"namespaces", Json::array({7})}}}),
                {"namespace at /0/namespaces/0", "7 is not an object"});
}

}  // namespace
}  // namespace nvh
