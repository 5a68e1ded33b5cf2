// cron_restart in simulated time: its wall clock moves, and is set, as the test says.
#include "runtime/supervise/cron_restart.h"

#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/simulated_time.h"

namespace tend::supervise {
namespace {

using namespace std::chrono_literals;
using WallTime = std::chrono::system_clock::time_point;

class CronRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
    loop_ = std::move(*loop::EventLoop::Create(time_));
  }

  static WallTime At(int year, int month, int day, int hour, int minute = 0, int second = 0) {
    std::tm tm{};
    tm.tm_year = year - 1900, tm.tm_mon = month - 1, tm.tm_mday = day;
    tm.tm_hour = hour, tm.tm_min = minute, tm.tm_sec = second;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
  }

  // Starts `expression` with the wall clock at `now`.
  void Start(const std::string& expression, WallTime now) {
    time_.SetWallClock(now);
    absl::StatusOr<cron::CronSchedule> schedule = cron::CronSchedule::Parse(expression);
    ASSERT_TRUE(schedule.ok()) << schedule.status();
    cron_ = std::make_unique<CronRestart>(*loop_, "app", expression, *schedule,
                                          [this] { runs_.push_back(time_.WallNow()); });
    cron_->Start();
  }

  void SetWallClock(WallTime to) {
    time_.SetWallClock(to);
    testing::SimulatedTime::RunDue(*loop_);
  }

  testing::SimulatedTime time_;
  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<CronRestart> cron_;
  std::vector<WallTime> runs_;
};

TEST_F(CronRestartTest, RunsOncePerTimeItNamesThoughTheClockReadsTheSecondBefore) {
  // A wall clock read through time(2) can lag the timer that fired: a next time computed
  // from it named the same time again, and ran it over and over.
  time_.SetWallReadsBehind(1ms);
  Start("*/2 * * * * *", At(2026, 1, 15, 12));
  time_.RunFor(*loop_, 6500ms, 1ms);
  EXPECT_EQ(runs_.size(), 3u);
}

TEST_F(CronRestartTest, ALateLoopRunsTheTimesItMissedOnce) {
  Start("*/2 * * * * *", At(2026, 1, 15, 12));
  time_.Advance(7s);  // the loop ran nothing for 7 s
  testing::SimulatedTime::RunDue(*loop_);
  EXPECT_EQ(runs_.size(), 1u);
  time_.RunFor(*loop_, 1s);  // the next is 12:00:08, from now
  EXPECT_EQ(runs_.size(), 2u);
}

TEST_F(CronRestartTest, AShortStepForwardPastATimeRunsItOnceAtOnce) {
  Start("0 * * * *", At(2026, 1, 15, 12, 50));
  SetWallClock(At(2026, 1, 15, 15, 20));  // past 13:00, 14:00 and 15:00
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0], At(2026, 1, 15, 15, 20));
  time_.RunFor(*loop_, 39min, 1min);
  EXPECT_EQ(runs_.size(), 1u);
  time_.RunFor(*loop_, 1min, 1min);
  EXPECT_EQ(runs_.size(), 2u);  // 16:00
}

TEST_F(CronRestartTest, ALongStepForwardStartsTheScheduleAnew) {
  Start("0 * * * *", At(2026, 1, 15, 12, 50));
  SetWallClock(At(2026, 1, 15, 16, 30));  // 3 h 40 min: a new clock, not a correction
  EXPECT_TRUE(runs_.empty());
  time_.RunFor(*loop_, 30min, 1min);
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0], At(2026, 1, 15, 17));
}

TEST_F(CronRestartTest, AShortStepBackDoesNotRunATimeAgain) {
  Start("0 * * * *", At(2026, 1, 15, 12, 59));
  time_.RunFor(*loop_, 1min, 1min);
  ASSERT_EQ(runs_.size(), 1u);  // 13:00
  SetWallClock(At(2026, 1, 15, 12, 30));
  time_.RunFor(*loop_, 89min, 1min);  // through 13:00 again, to 13:59
  EXPECT_EQ(runs_.size(), 1u);
  time_.RunFor(*loop_, 1min, 1min);
  ASSERT_EQ(runs_.size(), 2u);
  EXPECT_EQ(runs_[1], At(2026, 1, 15, 14));
}

TEST_F(CronRestartTest, ALongStepBackStartsTheScheduleAnew) {
  Start("0 * * * *", At(2026, 1, 15, 12, 59));
  time_.RunFor(*loop_, 1min, 1min);
  ASSERT_EQ(runs_.size(), 1u);
  SetWallClock(At(2026, 1, 15, 8, 30));
  time_.RunFor(*loop_, 30min, 1min);
  ASSERT_EQ(runs_.size(), 2u);
  EXPECT_EQ(runs_[1], At(2026, 1, 15, 9));
}

TEST_F(CronRestartTest, TheStepIsMeasuredNotHowLateThePendingTimeIs) {
  // 12:01 to 15:59 is a step of 3 h 58 min, though 13:00 is only 2 h 59 min late.
  Start("0 * * * *", At(2026, 1, 15, 12, 1));
  SetWallClock(At(2026, 1, 15, 15, 59));
  EXPECT_TRUE(runs_.empty());
  time_.RunFor(*loop_, 1min, 1min);
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0], At(2026, 1, 15, 16));
}

TEST_F(CronRestartTest, TimePassingBeforeAStepIsNotPartOfIt) {
  // Two hours pass, then a 2 h step: 4 h of wall time since the alarm was armed, a small step.
  Start("0 13 * * *", At(2026, 1, 15, 10));
  time_.RunFor(*loop_, 2h, 1min);
  SetWallClock(At(2026, 1, 15, 14));
  ASSERT_EQ(runs_.size(), 1u);  // 13:00, stepped over
}

TEST_F(CronRestartTest, ACatchUpStandsForEveryTimeItSteppedOver) {
  Start("0 * * * *", At(2026, 1, 15, 12, 50));
  SetWallClock(At(2026, 1, 15, 15, 20));
  ASSERT_EQ(runs_.size(), 1u);
  SetWallClock(At(2026, 1, 15, 14, 10));  // back before 15:00, which the catch-up covered
  time_.RunFor(*loop_, 110min, 1min);     // to 16:00
  ASSERT_EQ(runs_.size(), 2u);
  EXPECT_EQ(runs_[1], At(2026, 1, 15, 16));
}

TEST_F(CronRestartTest, AfterALongStepBackTheOldRunsAreForgotten) {
  Start("0 13 * * *", At(2026, 1, 15, 12, 59));
  time_.RunFor(*loop_, 1min, 1min);
  ASSERT_EQ(runs_.size(), 1u);
  time_.RunFor(*loop_, 1h, 1min);
  SetWallClock(At(2026, 1, 15, 8));  // 6 h back: 13:00 today is ahead again
  time_.RunFor(*loop_, 150min, 1min);
  SetWallClock(time_.WallNow());  // any set at all (chrony's makestep, a resume) re-arms
  time_.RunFor(*loop_, 150min, 1min);
  ASSERT_EQ(runs_.size(), 2u);
  EXPECT_EQ(runs_[1], At(2026, 1, 15, 13));
}

TEST_F(CronRestartTest, AnAlarmThatCannotBeArmedIsTriedAgain) {
  time_.FailWallAlarms(2);
  Start("0 * * * *", At(2026, 1, 15, 12, 50));
  time_.RunFor(*loop_, 10min, 1s);
  ASSERT_EQ(runs_.size(), 1u);  // armed at the third try, 20 s on
  EXPECT_EQ(runs_[0], At(2026, 1, 15, 13));
}

TEST_F(CronRestartTest, AStepBeforeTheFirstRunTakesTheScheduleFromTheNewTime) {
  Start("0 * * * *", At(2026, 1, 15, 12, 50));
  SetWallClock(At(2026, 1, 15, 10, 50));
  time_.RunFor(*loop_, 10min, 1min);
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0], At(2026, 1, 15, 11));
}

TEST_F(CronRestartTest, StoppedItNeverRuns) {
  time_.FailWallAlarms(1);
  Start("*/2 * * * * *", At(2026, 1, 15, 12));
  cron_->Stop();  // the retry too
  time_.RunFor(*loop_, 15s);
  SetWallClock(At(2026, 1, 15, 13));
  EXPECT_TRUE(runs_.empty());
}

// In a zone with DST: an hourly schedule runs once an hour of the wall clock's passing, so
// 23 times on the day of the spring-forward and 25 on the day of the fall-back, each later
// than the one before.
class CronRestartAcrossDstTest : public CronRestartTest {
 protected:
  void SetUp() override {
    CronRestartTest::SetUp();
    setenv("TZ", "America/New_York", 1);
    tzset();
  }

  void ExpectHourlyRunsOnTheDay(WallTime midnight, WallTime next_midnight, size_t hours) {
    Start("0 * * * *", midnight - 30min);
    time_.RunFor(*loop_, next_midnight - midnight, 1min);
    ASSERT_EQ(runs_.size(), hours);
    for (size_t i = 1; i < runs_.size(); ++i) EXPECT_EQ(runs_[i] - runs_[i - 1], 1h);
  }
};

TEST_F(CronRestartAcrossDstTest, SpringForward) {
  // 2026-03-08: 00:00 EST is 05:00 UTC; 02:00 EST becomes 03:00 EDT; the next midnight is
  // 04:00 UTC.
  ExpectHourlyRunsOnTheDay(At(2026, 3, 8, 5), At(2026, 3, 9, 4), 23);
}

TEST_F(CronRestartAcrossDstTest, FallBack) {
  // 2026-11-01: 00:00 EDT is 04:00 UTC; 02:00 EDT becomes 01:00 EST; the next midnight is
  // 05:00 UTC.
  ExpectHourlyRunsOnTheDay(At(2026, 11, 1, 4), At(2026, 11, 2, 5), 25);
}

}  // namespace
}  // namespace tend::supervise
