#include "runtime/loop/event_loop.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tend::loop {
namespace {

using std::chrono::milliseconds;

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = EventLoop::Create();
    ASSERT_TRUE(created.ok());
    loop_ = std::move(*created);
  }
  std::unique_ptr<EventLoop> loop_;
};

TEST_F(EventLoopTest, TimersFireInDeadlineOrder) {
  std::vector<std::string> fired;
  auto late = loop_->After(milliseconds(30), [&] {
    fired.push_back("late");
    loop_->Stop();
  });
  auto early = loop_->After(milliseconds(1), [&] { fired.push_back("early"); });
  auto now = loop_->After(milliseconds(0), [&] { fired.push_back("now"); });
  loop_->Run();
  EXPECT_EQ(fired, (std::vector<std::string>{"now", "early", "late"}));
}

TEST_F(EventLoopTest, DestroyedTimerNeverFires) {
  bool fired = false;
  auto cancelled = loop_->After(milliseconds(1), [&] { fired = true; });
  cancelled.reset();
  auto stop = loop_->After(milliseconds(20), [&] { loop_->Stop(); });
  loop_->Run();
  EXPECT_FALSE(fired);
}

TEST_F(EventLoopTest, RepeatingTimerMayCancelItselfFromItsCallback) {
  int fired = 0;
  std::unique_ptr<Timer> repeating;
  repeating = loop_->Every(milliseconds(1), [&] {
    if (++fired == 3) {
      repeating.reset();
      loop_->Stop();
    }
  });
  loop_->Run();
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(repeating, nullptr);
}

TEST_F(EventLoopTest, WatchedFdCallsBackWhenReadable) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  loop_->Watch(fds[0], [&] {
    char buffer[16];
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    got.assign(buffer, n > 0 ? n : 0);
    loop_->Unwatch(fds[0]);
    loop_->Stop();
  });
  ASSERT_EQ(write(fds[1], "ping", 4), 4);
  loop_->Run();
  EXPECT_EQ(got, "ping");
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace tend::loop
