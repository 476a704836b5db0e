#include "ndctl/libndctl_inventory.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace nvh {
namespace {

// The emulated-host test compares this backend with `ndctl list`; here only
// what a machine without NVDIMMs can show.
// On a host with an NVDIMM bus the listing must still succeed, and be stable.
TEST(LibndctlInventoryTest, ListsThisHostTwiceAlike) {
  std::error_code ec;
  const bool has_bus = std::filesystem::exists("/sys/bus/nd/devices/ndbus0", ec);
  LibndctlInventory inventory;
  const auto first = inventory.List();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  if (!has_bus) {
    EXPECT_TRUE(first->empty());
  }
  // A fresh context per call: listing twice gives the same namespaces.
  const auto second = inventory.List();
  ASSERT_TRUE(second.has_value()) << second.error().message;
  ASSERT_EQ(first->size(), second->size());
  for (std::size_t i = 0; i < first->size(); ++i) {
    EXPECT_EQ((*first)[i].dev, (*second)[i].dev);
    EXPECT_EQ((*first)[i].uuid, (*second)[i].uuid);
  }
}

}  // namespace
}  // namespace nvh
