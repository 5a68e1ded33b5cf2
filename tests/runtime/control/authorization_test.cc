#include "runtime/control/authorization.h"

#include "gtest/gtest.h"

namespace tend::control {
namespace {

TEST(AuthorizationTest, TheUnixSocketLetsEveryCallerIn) {
  EXPECT_EQ(Authorization::Open().Check(""), "");
  EXPECT_EQ(Authorization::Open().Check("Bearer anything"), "");
}

TEST(AuthorizationTest, TcpCallersNeedTheBearerToken) {
  Authorization auth = Authorization::Token("t0ken");
  EXPECT_EQ(auth.Check("Bearer t0ken"), "");
  EXPECT_EQ(auth.Check(""), "missing 'authorization: Bearer TOKEN' metadata");
  EXPECT_EQ(auth.Check("t0ken"), "missing 'authorization: Bearer TOKEN' metadata");
  EXPECT_EQ(auth.Check("Bearer t0ke"), "wrong bearer token");
  EXPECT_EQ(auth.Check("Bearer t0kenX"), "wrong bearer token");
}

TEST(AuthorizationTest, NoTokenNoControlOverTcp) {
  EXPECT_NE(Authorization::Token("").Check("Bearer "), "");
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
