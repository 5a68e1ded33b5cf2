#include "runtime/logs/line_format.h"

#include "gtest/gtest.h"

namespace tend::logs {
namespace {

TEST(InertTest, ControlCharactersAreShownNotSent) {
  EXPECT_EQ(Inert("plain text\twith a tab, and é"), "plain text\twith a tab, and é");
  EXPECT_EQ(Inert("\x1b[2J\x1b]52;c;aGk=\x07"), "\\x1b[2J\\x1b]52;c;aGk=\\x07");
  EXPECT_EQ(Inert("a\rb\x7f"), "a\\x0db\\x7f");
  EXPECT_EQ(Inert("\xc2\x9b"
                  "2J"),
            "\\u009b2J");            // C1's CSI, as UTF-8 writes it
  EXPECT_EQ(Inert("\xc2"), "\xc2");  // a lone lead byte is no control
}

}  // namespace
}  // namespace tend::logs
