#include "runtime/loop/event_loop.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/fd/unique_fd.h"
#include "tests/testing/faults.h"
#include "tests/testing/simulated_time.h"

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
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(fired, (std::vector<std::string>{"now", "early", "late"}));
}

TEST_F(EventLoopTest, DestroyedTimerNeverFires) {
  bool fired = false;
  auto cancelled = loop_->After(milliseconds(1), [&] { fired = true; });
  cancelled.reset();
  auto stop = loop_->After(milliseconds(20), [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());
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
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(repeating, nullptr);
}

TEST_F(EventLoopTest, WatchedFdCallsBackWhenReadable) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  ASSERT_TRUE(loop_
                  ->Watch(fds[0],
                          [&] {
                            char buffer[16];
                            ssize_t n = read(fds[0], buffer, sizeof buffer);
                            got.assign(buffer, n > 0 ? n : 0);
                            loop_->Unwatch(fds[0]);
                            loop_->Stop();
                          })
                  .ok());
  ASSERT_EQ(write(fds[1], "ping", 4), 4);
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(got, "ping");
  close(fds[0]);
  close(fds[1]);
}

TEST_F(EventLoopTest, WatchingABadDescriptorFailsAndNamesTheCall) {
  absl::Status watched = loop_->Watch(1000, [] {});
  EXPECT_FALSE(watched.ok());
  EXPECT_NE(watched.message().find("epoll_ctl"), absl::string_view::npos) << watched;
  EXPECT_FALSE(loop_->WatchWritable(1000, [] {}).ok());
}

// The loop's own failure is returned, never a silent return from Run().
TEST_F(EventLoopTest, RunReturnsTheErrorWhenEpollWaitFails) {
  ASSERT_TRUE(testing::BreakTheEpollInstance());
  absl::Status ran = loop_->Run();
  EXPECT_FALSE(ran.ok());
  EXPECT_NE(ran.message().find("epoll_wait"), absl::string_view::npos) << ran;
}

// Timers share one timerfd: arming one needs no descriptor, so timers (kill deadlines,
// restart delays) keep working when descriptors have run out.
TEST_F(EventLoopTest, TimersWorkWithNoDescriptorLeft) {
  int fired = 0;
  absl::Status ran;
  {
    testing::NoDescriptorsLeft exhausted;
    ASSERT_TRUE(exhausted.ok());
    EXPECT_LT(open("/dev/null", O_RDONLY), 0);
    std::vector<std::unique_ptr<Timer>> timers;
    for (int i = 0; i < 100; ++i) {
      timers.push_back(loop_->After(milliseconds(i % 5), [&] {
        if (++fired == 100) loop_->Stop();
      }));
    }
    ran = loop_->Run();
  }
  EXPECT_TRUE(ran.ok()) << ran;
  EXPECT_EQ(fired, 100);
}

TEST_F(EventLoopTest, TimersThatFireTogetherMayCancelEachOther) {
  bool second_fired = false;
  std::unique_ptr<Timer> second;
  auto first = loop_->After(milliseconds(5), [&] { second.reset(); });
  second = loop_->After(milliseconds(5), [&] { second_fired = true; });
  auto stop = loop_->After(milliseconds(30), [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_FALSE(second_fired);
}

// CPU time this thread has used.
milliseconds ThreadCpu() {
  rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  return milliseconds(usage.ru_utime.tv_sec * 1000 + usage.ru_utime.tv_usec / 1000 +
                      usage.ru_stime.tv_sec * 1000 + usage.ru_stime.tv_usec / 1000);
}

// Reading paused and nothing to write (a connection waiting for its answer) when the peer
// resets: epoll reports the hang-up at every turn, which spun the loop. It waits, out of
// the way, for the owner to watch the descriptor again.
TEST_F(EventLoopTest, AHangUpNobodyWatchesForDoesNotSpinTheLoop) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  ASSERT_TRUE(loop_->Watch(ours.get(), nullptr).ok());
  theirs.reset();  // the peer is gone: EPOLLHUP
  milliseconds before = ThreadCpu();
  auto stop = loop_->After(milliseconds(300), [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_LT(ThreadCpu() - before, milliseconds(100)) << "the loop spun on the hang-up";
  // Watched again, the owner hears of it.
  bool heard = false;
  ASSERT_TRUE(loop_
                  ->Watch(ours.get(),
                          [&] {
                            char byte;
                            heard = read(ours.get(), &byte, 1) == 0;
                            loop_->Stop();
                          })
                  .ok());
  auto give_up = loop_->After(milliseconds(1000), [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_TRUE(heard);
  loop_->Unwatch(ours.get());
}

TEST(EventLoopInSimulatedTimeTest, TimersFireWhenTheTimeIsMovedPastThemAndNotBefore) {
  testing::SimulatedTime time;
  std::unique_ptr<EventLoop> loop = std::move(*EventLoop::Create(time));
  std::vector<std::string> fired;
  auto hour = loop->After(std::chrono::hours(1), [&] { fired.push_back("hour"); });
  auto minute = loop->After(std::chrono::minutes(1), [&] { fired.push_back("minute"); });
  int ticks = 0;
  auto every = loop->Every(std::chrono::seconds(10), [&] { ++ticks; });
  time.RunFor(*loop, std::chrono::seconds(59), std::chrono::seconds(1));
  EXPECT_TRUE(fired.empty());
  EXPECT_EQ(ticks, 5);
  time.RunFor(*loop, std::chrono::seconds(1), std::chrono::seconds(1));
  EXPECT_EQ(fired, (std::vector<std::string>{"minute"}));
  time.Advance(std::chrono::hours(1));  // one jump past both: each fires once, in order
  testing::SimulatedTime::RunDue(*loop);
  EXPECT_EQ(fired, (std::vector<std::string>{"minute", "hour"}));
  EXPECT_EQ(ticks, 7);
}

}  // namespace
}  // namespace tend::loop
