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

}  // namespace
}  // namespace tend::loop
