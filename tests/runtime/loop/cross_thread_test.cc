#include "runtime/loop/cross_thread.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tend::loop {
namespace {

TEST(CrossThreadTest, TasksFromManyThreadsAllRunOnTheLoopThread) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  const std::thread::id loop_thread = std::this_thread::get_id();
  constexpr int kThreads = 4, kTasks = 1000;
  int ran = 0;  // the loop's alone: no lock, and TSan would see a race otherwise
  bool all_on_loop = true;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kTasks; ++i) {
        bridge->Post([&] {
          all_on_loop &= std::this_thread::get_id() == loop_thread;
          if (++ran == kThreads * kTasks) loop->Stop();
        });
      }
    });
  }
  EXPECT_TRUE(loop->Run().ok());
  for (std::thread& poster : posters) poster.join();
  EXPECT_EQ(ran, kThreads * kTasks);
  EXPECT_TRUE(all_on_loop);
}

// A closed bridge runs no task more: each one queued, or posted later, has its `dropped`
// run instead, and what the tasks owned is freed.
TEST(CrossThreadTest, ClosedItRunsWhatWasDroppedInstead) {
  auto loop = std::move(*EventLoop::Create());
  auto bridge = std::move(*CrossThread::Create(*loop));
  auto owned = std::make_shared<int>(0);
  int ran = 0, dropped = 0;
  bridge->Post([owned, &ran] { ++ran; }, [&dropped] { ++dropped; });
  EXPECT_EQ(dropped, 0);
  bridge->Close();
  EXPECT_EQ(dropped, 1);
  bridge->Post([owned, &ran] { ++ran; }, [&dropped] { ++dropped; });
  EXPECT_EQ(dropped, 2);
  EXPECT_EQ(owned.use_count(), 1);
  auto stopper = loop->After(std::chrono::milliseconds(50), [&] { loop->Stop(); });
  EXPECT_TRUE(loop->Run().ok());
  EXPECT_EQ(ran, 0);
}

}  // namespace
}  // namespace tend::loop
