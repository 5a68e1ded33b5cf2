#include "runtime/supervise/restart_policy.h"

#include "gtest/gtest.h"

namespace tend::supervise {
namespace {

using Kind = RestartTracker::Decision::Kind;

TEST(RestartTrackerTest, RestartsAfterTheConfiguredDelay) {
  RestartPolicy policy;
  policy.restart_delay = Millis(250);
  RestartTracker tracker(policy);
  RestartTracker::Decision decision = tracker.OnExit(1, Millis(5000));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_EQ(decision.delay, Millis(250));
}

TEST(RestartTrackerTest, NoAutorestartAndStopExitCodesStop) {
  RestartPolicy off;
  off.autorestart = false;
  EXPECT_EQ(RestartTracker(off).OnExit(1, Millis(5000)).kind, Kind::kStop);
  RestartPolicy codes;
  codes.stop_exit_codes = {0, 3};
  RestartTracker tracker(codes);
  EXPECT_EQ(tracker.OnExit(3, Millis(0)).kind, Kind::kStop);
  EXPECT_EQ(tracker.OnExit(4, Millis(5000)).kind, Kind::kRestart);
}

TEST(RestartTrackerTest, UnstableRunsInARowEndInErrored) {
  RestartPolicy policy;
  policy.max_restarts = 3;
  policy.min_uptime = Millis(1000);
  RestartTracker tracker(policy);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).kind, Kind::kRestart);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).kind, Kind::kRestart);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).kind, Kind::kErrored);
}

TEST(RestartTrackerTest, AStableRunResetsTheStreak) {
  RestartPolicy policy;
  policy.max_restarts = 2;
  RestartTracker tracker(policy);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).kind, Kind::kRestart);
  EXPECT_EQ(tracker.OnExit(1, Millis(2000)).kind, Kind::kRestart);
  EXPECT_EQ(tracker.unstable_restarts(), 0);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).kind, Kind::kRestart);
}

TEST(RestartTrackerTest, ExponentialBackoffGrowsByHalfUpTo15sAndResetsWhenStable) {
  RestartPolicy policy;
  policy.exp_backoff_restart_delay = Millis(100);
  policy.max_restarts = 1000;
  RestartTracker tracker(policy);
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).delay, Millis(100));
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).delay, Millis(150));
  EXPECT_EQ(tracker.OnExit(1, Millis(10)).delay, Millis(225));
  Millis last{0};
  for (int i = 0; i < 30; ++i) last = tracker.OnExit(1, Millis(10)).delay;
  EXPECT_EQ(last, Millis(15000));
  EXPECT_EQ(tracker.OnExit(1, Millis(31000)).delay, Millis(100));
}

}  // namespace
}  // namespace tend::supervise
