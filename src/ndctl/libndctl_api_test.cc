#include "ndctl/libndctl_api.h"

#include <gtest/gtest.h>

namespace nvh {
namespace {

TEST(LibndctlApiTest, LoadsEveryFunctionOnce) {
  const auto first = LoadLibndctl();
  ASSERT_TRUE(first.has_value()) << first.error().message;
#define NVH_EXPECT_RESOLVED(name) EXPECT_NE((*first)->name, nullptr) << #name;
  NVH_LIBNDCTL_FUNCTIONS(NVH_EXPECT_RESOLVED)
  NVH_LIBDAXCTL_FUNCTIONS(NVH_EXPECT_RESOLVED)
#undef NVH_EXPECT_RESOLVED
  const auto second = LoadLibndctl();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*first, *second);
}

}  // namespace
}  // namespace nvh
