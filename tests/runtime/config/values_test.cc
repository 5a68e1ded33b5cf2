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

TEST(ValuesTest, HostPort) {
  std::string host;
  uint32_t port;
  ASSERT_TRUE(ParseHostPort("9615", &host, &port));
  EXPECT_EQ(host, "");
  EXPECT_EQ(port, 9615u);
  ASSERT_TRUE(ParseHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  ASSERT_TRUE(ParseHostPort("[::1]:8080", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080u);
  for (const char* bad : {"", "http", ":", "1.2.3.4:", "[::1]", "[::1:80", "70000", "-1"}) {
    EXPECT_FALSE(ParseHostPort(bad, &host, &port)) << bad;
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
