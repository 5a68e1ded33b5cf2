#include "runtime/config/endpoints.h"

#include "gtest/gtest.h"

namespace tend::config {
namespace {

TEST(Endpoints, OnlyTheDefaultHttpAddressMayBeGoneWithout) {
  EXPECT_TRUE(HttpIsOnlyTheDefault(kDefaultHttp));
  EXPECT_FALSE(HttpIsOnlyTheDefault("0.0.0.0:9616"));
  EXPECT_FALSE(HttpIsOnlyTheDefault("127.0.0.1:9615"));  // the user named an address
}

TEST(Endpoints, TheControlSocketIsAskedForOnceGrpcIsSet) {
  EXPECT_TRUE(ControlIsOnlyTheDefault(kDefaultControl, ""));
  EXPECT_FALSE(ControlIsOnlyTheDefault(kDefaultControl, "127.0.0.1:0"));
  EXPECT_FALSE(ControlIsOnlyTheDefault("/tmp/tend.sock", ""));
}

}  // namespace
}  // namespace tend::config
