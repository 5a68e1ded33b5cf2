#include "runtime/control/authorization.h"

#include "gtest/gtest.h"

namespace tend::control {
namespace {

TEST(AuthorizationTest, UnixPeersMayAlways) {
  EXPECT_EQ(Authorization("").Check("unix:/run/tend/control.sock", ""), "");
  EXPECT_EQ(Authorization("t0ken").Check("unix:", ""), "");
  EXPECT_EQ(Authorization("t0ken").Check("fd:12", ""), "");
}

TEST(AuthorizationTest, TcpPeersNeedTheBearerToken) {
  Authorization auth("t0ken");
  EXPECT_EQ(auth.Check("ipv4:127.0.0.1:5555", "Bearer t0ken"), "");
  EXPECT_EQ(auth.Check("ipv6:[::1]:5555", "Bearer t0ken"), "");
  EXPECT_EQ(auth.Check("ipv4:127.0.0.1:5555", ""),
            "missing 'authorization: Bearer TOKEN' metadata");
  EXPECT_EQ(auth.Check("ipv4:127.0.0.1:5555", "t0ken"),
            "missing 'authorization: Bearer TOKEN' metadata");
  EXPECT_EQ(auth.Check("ipv4:127.0.0.1:5555", "Bearer t0ke"), "wrong bearer token");
  EXPECT_EQ(auth.Check("ipv4:127.0.0.1:5555", "Bearer t0kenX"), "wrong bearer token");
}

TEST(AuthorizationTest, NoTokenNoControlOverTcp) {
  EXPECT_NE(Authorization("").Check("ipv4:127.0.0.1:5555", "Bearer "), "");
}

TEST(AuthorizationTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0", 2), "a"));
}

}  // namespace
}  // namespace tend::control
