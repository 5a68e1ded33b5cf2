#include "runtime/loop/cross_thread.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace tend::loop {
namespace {

using namespace std::chrono_literals;

TEST(CrossThreadTest, CallRunsOnTheLoopThreadAndReturnsItsResult) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  std::thread::id loop_thread = std::this_thread::get_id();
  std::optional<bool> on_loop;
  std::thread caller([&] {
    on_loop = bridge->Call<bool>([&] { return std::this_thread::get_id() == loop_thread; }, 5s);
    bridge->Post([&] { loop->Stop(); });
  });
  EXPECT_TRUE(loop->Run().ok());
  caller.join();
  EXPECT_EQ(on_loop, std::optional<bool>(true));
}

TEST(CrossThreadTest, CallGivesUpWhenTheLoopIsStuck) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  // The loop never runs: the call times out and the late task is harmless.
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(bridge->Call<int>([] { return 1; }, 50ms), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
}

TEST(CrossThreadTest, ClosedItRefusesAtOnce) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  bridge->Close();
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(bridge->Call<int>([] { return 1; }, 5s), std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

// A task still queued when its call gives up is skipped: it would otherwise use the
// caller's stack, gone by then (ASan sees that in `make test`).
TEST(CrossThreadTest, ATaskWhoseCallTimedOutNeverRuns) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  std::atomic<bool> ran{false};
  {
    int on_callers_stack = 0;
    EXPECT_EQ(bridge->Call<int>([&] {
                ran = true;
                return ++on_callers_stack;
              }, 20ms),
              std::nullopt);
  }
  bridge->Post([&] { loop->Stop(); });
  EXPECT_TRUE(loop->Run().ok());  // now the loop runs what was queued
  EXPECT_FALSE(ran);
}

// A task the loop has begun is waited for, past the timeout, and its result returned.
TEST(CrossThreadTest, ATaskAlreadyRunningIsWaitedFor) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  std::optional<int> got;
  std::thread caller([&] {
    int lent = 41;
    got = bridge->Call<int>([&] {
      std::this_thread::sleep_for(200ms);
      return ++lent;
    }, 20ms);
    bridge->Post([&] { loop->Stop(); });
  });
  EXPECT_TRUE(loop->Run().ok());
  caller.join();
  EXPECT_EQ(got, std::optional<int>(42));
}

TEST(CrossThreadTest, CloseEndsACallThatIsWaiting) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  std::optional<int> got = 0;
  auto started = std::chrono::steady_clock::now();
  std::thread caller([&] { got = bridge->Call<int>([] { return 1; }, 10s); });
  std::this_thread::sleep_for(50ms);
  bridge->Close();
  caller.join();
  EXPECT_EQ(got, std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

}  // namespace
}  // namespace tend::loop
