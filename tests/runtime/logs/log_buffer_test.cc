// The lines kept for `tend ctl logs`: bounded per app by lines and bytes, filtered, in order.
#include "runtime/logs/log_buffer.h"

#include "gtest/gtest.h"

namespace tend::logs {
namespace {

std::vector<std::string> Texts(const std::vector<KeptLine>& lines) {
  std::vector<std::string> texts;
  for (const KeptLine& line : lines) texts.push_back(line.text);
  return texts;
}

TEST(LogBufferTest, KeepsTheLastLinesOfEachAppInOrder) {
  LogBuffer buffer(3, 1 << 20);
  for (int i = 0; i < 5; ++i) {
    buffer.Add({"web", i % 2, 10}, false, "web " + std::to_string(i), i);
    buffer.Add({"jobs", 0, 20}, i == 4, "jobs " + std::to_string(i), i);
  }
  EXPECT_EQ(Texts(buffer.Last("web", std::nullopt, 10)),
            (std::vector<std::string>{"web 2", "web 3", "web 4"}));
  EXPECT_EQ(Texts(buffer.Last("web", 1, 10)), (std::vector<std::string>{"web 3"}));
  EXPECT_EQ(Texts(buffer.Last("", std::nullopt, 3)),
            (std::vector<std::string>{"jobs 3", "web 4", "jobs 4"}));
  EXPECT_TRUE(buffer.Last("jobs", std::nullopt, 1)[0].is_stderr);
  EXPECT_TRUE(buffer.Last("none", std::nullopt, 5).empty());
}

TEST(LogBufferTest, BytesBoundTheAppWhicheverComesFirst) {
  const size_t line_cost = LogBuffer::Cost({0, {"web", 0, 1}, false, std::string(100, 'x')});
  LogBuffer buffer(1000, 3 * line_cost);
  for (int i = 0; i < 10; ++i) buffer.Add({"web", 0, 1}, false, std::string(100, 'a' + i), i);
  std::vector<KeptLine> kept = buffer.Last("web", std::nullopt, 1000);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.front().text[0], 'h');
  EXPECT_EQ(buffer.bytes("web"), 3 * line_cost);
  // A line larger than the whole bound is not kept, and evicts nothing.
  buffer.Add({"web", 0, 1}, false, std::string(1000, 'z'), 11);
  EXPECT_EQ(buffer.Last("web", std::nullopt, 1000).size(), 3u);
}

TEST(LogBufferTest, FollowersSeeEveryLineUntilTheyLeave) {
  LogBuffer buffer(0, 0);  // nothing kept: followers are told all the same
  std::vector<std::string> seen;
  uint64_t id = buffer.Follow([&seen](const KeptLine& line) { seen.push_back(line.text); });
  buffer.Add({"web", 0, 1}, false, "one", 1);
  buffer.Unfollow(id);
  buffer.Add({"web", 0, 1}, false, "two", 2);
  EXPECT_EQ(seen, std::vector<std::string>{"one"});
  EXPECT_TRUE(buffer.Last("", std::nullopt, 10).empty());
}

}  // namespace
}  // namespace tend::logs
