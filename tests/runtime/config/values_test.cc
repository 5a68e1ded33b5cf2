#include "runtime/config/values.h"

#include "gtest/gtest.h"

namespace tend::config {
namespace {

TEST(ValuesTest, Sizes) {
  EXPECT_EQ(ParseSize("200M"), 200ull << 20);
  EXPECT_EQ(ParseSize("1G"), 1ull << 30);
  EXPECT_EQ(ParseSize("512k"), 512ull << 10);
  EXPECT_EQ(ParseSize("1048576"), 1048576u);
  for (const char* bad : {"", "M", "0", "-1M", "1.5G", "12Q", "lots", "99999999999G"}) {
    EXPECT_EQ(ParseSize(bad), std::nullopt) << bad;
  }
}

TEST(ValuesTest, Millis) {
  EXPECT_EQ(ParseMillis("1500"), 1500u);
  EXPECT_EQ(ParseMillis("500ms"), 500u);
  EXPECT_EQ(ParseMillis("10s"), 10000u);
  EXPECT_EQ(ParseMillis("2m"), 120000u);
  EXPECT_EQ(ParseMillis("1h"), 3600000u);
  EXPECT_EQ(ParseMillis("0"), 0u);
  for (const char* bad : {"", "s", "-5", "1.5s", "soon", "25h", "86400001"}) {
    EXPECT_EQ(ParseMillis(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace tend::config
