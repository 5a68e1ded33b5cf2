#include "runtime/loop/wall_clock_timer.h"

#include "gtest/gtest.h"

namespace tend::loop {
namespace {

using namespace std::chrono_literals;

TEST(WallClockTimerTest, FiresWhenTheWallClockComes) {
  auto loop = std::move(*EventLoop::Create());
  auto at = std::chrono::system_clock::now() + 200ms;
  bool on_time = false, clock_set = false;
  auto timer = WallClockTimer::Start(
      *loop, at,
      [&] {
        on_time = true;
        loop->Stop();
      },
      [&] {
        clock_set = true;
        loop->Stop();
      });
  ASSERT_TRUE(timer.ok()) << timer.status();
  auto guard = loop->After(10s, [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_TRUE(on_time);
  EXPECT_FALSE(clock_set);
  EXPECT_GE(std::chrono::system_clock::now(), at);
}

TEST(WallClockTimerTest, ATimeAlreadyPastFiresAtOnce) {
  auto loop = std::move(*EventLoop::Create());
  bool on_time = false;
  auto timer = WallClockTimer::Start(
      *loop, std::chrono::system_clock::now() - 1h,
      [&] {
        on_time = true;
        loop->Stop();
      },
      [&] { loop->Stop(); });
  ASSERT_TRUE(timer.ok());
  auto guard = loop->After(5s, [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_TRUE(on_time);
}

TEST(WallClockTimerTest, DestroyedItNeverFires) {
  auto loop = std::move(*EventLoop::Create());
  bool fired = false;
  auto timer = WallClockTimer::Start(
      *loop, std::chrono::system_clock::now() + 50ms, [&] { fired = true; }, [&] { fired = true; });
  ASSERT_TRUE(timer.ok());
  timer->reset();
  auto stop = loop->After(200ms, [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace tend::loop
