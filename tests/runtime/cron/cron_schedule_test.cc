#include "runtime/cron/cron_schedule.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tend::cron {
namespace {

class CronScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }

  // Seconds since the epoch of a UTC date and time.
  static time_t At(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
    std::tm tm{};
    tm.tm_year = year - 1900, tm.tm_mon = month - 1, tm.tm_mday = day;
    tm.tm_hour = hour, tm.tm_min = minute, tm.tm_sec = second;
    return timegm(&tm);
  }

  static time_t Next(const std::string& expression, time_t after) {
    absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(expression);
    EXPECT_TRUE(schedule.ok()) << schedule.status();
    return schedule.ok() ? schedule->Next(after) : -2;
  }
};

TEST_F(CronScheduleTest, FiveFieldsFireOnTheMinute) {
  // 2026-11-22 is a Sunday.
  EXPECT_EQ(Next("30 3 * * *", At(2026, 11, 22, 1, 0)), At(2026, 11, 22, 3, 30));
  EXPECT_EQ(Next("30 3 * * *", At(2026, 11, 22, 3, 30)), At(2026, 11, 23, 3, 30));
  EXPECT_EQ(Next("*/15 * * * *", At(2026, 11, 22, 1, 7, 59)), At(2026, 11, 22, 1, 15));
  EXPECT_EQ(Next("0 0 1 * *", At(2026, 12, 15)), At(2027, 1, 1));
}

TEST_F(CronScheduleTest, SixFieldsHaveSecondsFirst) {
  EXPECT_EQ(Next("*/2 * * * * *", At(2026, 11, 22, 1, 0, 1)), At(2026, 11, 22, 1, 0, 2));
  EXPECT_EQ(Next("10 0 12 * * *", At(2026, 11, 22, 12, 0, 10)), At(2026, 11, 23, 12, 0, 10));
}

TEST_F(CronScheduleTest, NamesRangesListsAndSteps) {
  EXPECT_EQ(Next("0 4 * * mon-fri", At(2026, 11, 21, 5)), At(2026, 11, 23, 4));  // Sat -> Mon
  EXPECT_EQ(Next("0 0 * jan,jul *", At(2026, 11, 22)), At(2027, 1, 1));
  EXPECT_EQ(Next("0 9-17/4 * * *", At(2026, 11, 22, 9, 1)), At(2026, 11, 22, 13));
  EXPECT_EQ(Next("0 0 * * 7", At(2026, 11, 23)), At(2026, 11, 29));  // 7 is Sunday too
}

TEST_F(CronScheduleTest, RestrictedDayFieldsMatchEither) {
  // The 1st of the month or any Friday, as in cron.
  EXPECT_EQ(Next("0 0 1 * fri", At(2026, 11, 22)), At(2026, 11, 27));
  EXPECT_EQ(Next("0 0 1 * fri", At(2026, 11, 27)), At(2026, 12, 1));
}

TEST_F(CronScheduleTest, Macros) {
  EXPECT_EQ(Next("@daily", At(2026, 11, 22, 10)), At(2026, 11, 23));
  EXPECT_EQ(Next("@hourly", At(2026, 11, 22, 10, 5)), At(2026, 11, 22, 11));
  EXPECT_EQ(Next("@weekly", At(2026, 11, 22, 10)), At(2026, 11, 29));
  EXPECT_EQ(Next("@yearly", At(2026, 11, 22)), At(2027, 1, 1));
}

TEST_F(CronScheduleTest, LeapDayAndImpossibleDates) {
  EXPECT_EQ(Next("0 0 29 2 *", At(2026, 11, 22)), At(2028, 2, 29));
  EXPECT_EQ(Next("0 0 30 2 *", At(2026, 11, 22)), -1);
}

TEST_F(CronScheduleTest, BadExpressionsNameTheProblem) {
  struct Case {
    const char* expression;
    const char* message;
  } cases[] = {
      {"", "cron expression '' has 0 fields; expected 5 (m h dom mon dow) or 6"},
      {"* * * * * * *", "has 7 fields"},
      {"60 * * * *", "cron minute field '60': expected 0 to 59"},
      {"* * 0 * *", "cron day-of-month field '0': expected 1 to 31"},
      {"* * * foo *", "cron month field 'foo': expected 1 to 12"},
      {"* * * * 8", "cron day-of-week field '8': expected 0 to 7"},
      {"5-1 * * * *", "cron minute field '5-1': not a range within 0 to 59"},
      {"*/0 * * * *", "cron minute field '*/0': the step is not a number"},
      {"1,,2 * * * *", "cron minute field '': expected 0 to 59"},
      {"@sometimes", "has 1 fields"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(c.expression);
    ASSERT_FALSE(schedule.ok()) << c.expression;
    EXPECT_NE(schedule.status().message().find(c.message), absl::string_view::npos)
        << c.expression << ": " << schedule.status().message();
  }
}

// A zone with DST: every next time is after the one before, through both changes.
class CronAcrossDstTest : public CronScheduleTest {
 protected:
  void SetUp() override {
    setenv("TZ", "America/New_York", 1);
    tzset();
  }
};

TEST_F(CronAcrossDstTest, EveryNextTimeIsLaterThroughTheFallBack) {
  // 2026-11-01 06:00 UTC is 01:00 EST, the start of the repeated hour (05:00 UTC: 01:00 EDT).
  absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse("*/5 * * * * *");
  ASSERT_TRUE(schedule.ok());
  time_t at = At(2026, 11, 1, 4, 50);
  while (at < At(2026, 11, 1, 8)) {
    time_t next = schedule->Next(at);
    ASSERT_GT(next, at) << "after " << at;
    ASSERT_LE(next, at + 5) << "after " << at;  // every 5 s, in both passes of the hour
    at = next;
  }
  // From inside the second pass of the hour too, not only by stepping into it.
  for (time_t from = At(2026, 11, 1, 6); from < At(2026, 11, 1, 7); from += 97) {
    EXPECT_GT(schedule->Next(from), from);
  }
}

TEST_F(CronAcrossDstTest, ATimeInTheRepeatedHourIsNamedInBothPassesAndASkippedOneNot) {
  time_t first = Next("30 1 * * *", At(2026, 11, 1, 4));         // 00:00 EDT
  EXPECT_EQ(first, At(2026, 11, 1, 5, 30));                      // 01:30 EDT
  EXPECT_EQ(Next("30 1 * * *", first), At(2026, 11, 1, 6, 30));  // 01:30 EST
  EXPECT_EQ(Next("30 1 * * *", At(2026, 11, 1, 6, 30)), At(2026, 11, 2, 6, 30));
  // 2026-03-08: 02:00 EST springs to 03:00 EDT, so 02:30 does not exist that day.
  EXPECT_EQ(Next("30 2 * * *", At(2026, 3, 8, 5)), At(2026, 3, 9, 6, 30));  // 02:30 EDT
}

// Chatham's clocks change at 02:45 and 03:45, not on the hour: stepping by the hour there
// passed over times that exist.
class CronOffTheHourTest : public CronScheduleTest {
 protected:
  void SetUp() override {
    setenv("TZ", "Pacific/Chatham", 1);
    tzset();
  }
};

TEST_F(CronOffTheHourTest, TimesNearAChangeWithinTheHourAreFound) {
  // 2026-04-05: 03:45 CHADT falls back to 02:45 CHAST, so 02:45 comes twice.
  time_t first = Next("45 2 * * *", At(2026, 4, 4, 10, 15));  // 00:00 local
  EXPECT_EQ(first, At(2026, 4, 4, 13, 0));
  EXPECT_EQ(Next("45 2 * * *", first), At(2026, 4, 4, 14, 0));
  // 2026-09-27: 02:45 CHAST springs to 03:45 CHADT; 03:50 exists.
  EXPECT_EQ(Next("50 3 * * *", At(2026, 9, 26, 11, 15)), At(2026, 9, 26, 14, 5));
}

}  // namespace
}  // namespace tend::cron
