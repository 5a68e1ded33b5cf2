#pragma once

#include <bitset>
#include <ctime>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tend::cron {

// A cron schedule as pm2's cron_restart takes it: five fields (minute hour day-of-month
// month day-of-week), or six with seconds first, or a macro (@yearly, @monthly, @weekly,
// @daily, @midnight, @hourly). Fields take *, lists, ranges, steps, and month and day
// names. As in cron, when both day fields are restricted a day matching either one fires.
class CronSchedule {
 public:
  static absl::StatusOr<CronSchedule> Parse(absl::string_view expression);

  // The first time strictly after `after` that the schedule names, in local time; -1 when
  // there is none within the next eight years (e.g. "0 0 30 2 *"). Always after `after`,
  // across DST changes too: a time the fall-back repeats is named in both passes, one that
  // the spring-forward skips is not named that day.
  time_t Next(time_t after) const;

 private:
  CronSchedule() = default;
  bool DayMatches(const std::tm& day) const;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool any_day_of_month_ = false;
  bool any_day_of_week_ = false;
};

}  // namespace tend::cron
