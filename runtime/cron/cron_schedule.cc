#include "runtime/cron/cron_schedule.h"

#include <array>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tend::cron {
namespace {

constexpr std::array<absl::string_view, 12> kMonthNames = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<absl::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                        "thu", "fri", "sat"};

struct FieldSpec {
  absl::string_view what;
  int min;
  int max;
  const absl::string_view* names;  // names[i] stands for min + i; may be null
  size_t name_count;
};

absl::Status Bad(const FieldSpec& spec, absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("cron ", spec.what, " field '", part, "': ", why));
}

bool ParseValue(absl::string_view text, const FieldSpec& spec, int* value) {
  std::string lower = absl::AsciiStrToLower(text);
  for (size_t i = 0; i < spec.name_count; ++i) {
    if (lower == spec.names[i]) {
      *value = spec.min + static_cast<int>(i);
      return true;
    }
  }
  return !text.empty() && absl::ascii_isdigit(text[0]) && absl::SimpleAtoi(text, value) &&
         *value >= spec.min && *value <= spec.max;
}

// One field: comma-separated items, each '*', N, or N-M, optionally followed by /STEP.
absl::StatusOr<std::vector<int>> ParseField(absl::string_view field, const FieldSpec& spec,
                                            bool* any) {
  std::vector<int> values;
  *any = field == "*" || field == "?";
  for (absl::string_view item : absl::StrSplit(field, ',')) {
    std::pair<absl::string_view, absl::string_view> range_step = absl::StrSplit(item, '/');
    bool has_step = item.find('/') != absl::string_view::npos;
    int step = 1;
    if (has_step && (!absl::SimpleAtoi(range_step.second, &step) || step < 1 ||
                     step > spec.max - spec.min + 1)) {
      return Bad(spec, item, "the step is not a number within the field's range");
    }
    absl::string_view range = range_step.first;
    int first = spec.min, last = spec.max;
    if (range != "*" && range != "?") {
      std::pair<absl::string_view, absl::string_view> bounds = absl::StrSplit(range, '-');
      if (!ParseValue(bounds.first, spec, &first)) {
        return Bad(spec, item, absl::StrCat("expected ", spec.min, " to ", spec.max));
      }
      last = first;
      if (range.find('-') != absl::string_view::npos) {
        if (!ParseValue(bounds.second, spec, &last) || last < first) {
          return Bad(spec, item, absl::StrCat("not a range within ", spec.min, " to ", spec.max));
        }
      } else if (has_step) {
        last = spec.max;  // N/STEP: from N to the end
      }
    }
    for (int value = first; value <= last; value += step) values.push_back(value);
  }
  return values;
}

template <size_t N>
absl::Status Fill(absl::string_view field, const FieldSpec& spec, std::bitset<N>* bits,
                  bool* any = nullptr) {
  bool is_any;
  absl::StatusOr<std::vector<int>> values = ParseField(field, spec, &is_any);
  if (!values.ok()) return values.status();
  for (int value : *values) bits->set(value % static_cast<int>(N));  // day 7 is Sunday
  if (any) *any = is_any;
  return absl::OkStatus();
}

absl::string_view Expand(absl::string_view expression) {
  if (expression == "@yearly" || expression == "@annually") return "0 0 1 1 *";
  if (expression == "@monthly") return "0 0 1 * *";
  if (expression == "@weekly") return "0 0 * * 0";
  if (expression == "@daily" || expression == "@midnight") return "0 0 * * *";
  if (expression == "@hourly") return "0 * * * *";
  return expression;
}

// Normalizes `tm` (which may have overflowed fields) in local time.
time_t Normalize(std::tm* tm) {
  tm->tm_isdst = -1;
  return mktime(tm);
}

// The first second of local day `tm` plus `days` days, plus `months` months (mktime carries
// overflow), or -1. Local midnight exists almost everywhere; where DST skips it, mktime
// gives the first time of that day that does.
time_t LocalDayStart(std::tm tm, int days, int months) {
  tm.tm_mday = months ? 1 : tm.tm_mday + days;
  tm.tm_mon += months;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return Normalize(&tm);
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(absl::string_view expression) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(Expand(absl::StripAsciiWhitespace(expression)), ' ', absl::SkipEmpty());
  if (fields.size() != 5 && fields.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat("cron expression '", expression, "' has ",
                                                   fields.size(),
                                                   " fields; expected 5 (m h dom mon dow) or 6"));
  }
  CronSchedule schedule;
  if (fields.size() == 5) {
    schedule.seconds_.set(0);
  } else if (absl::Status s = Fill(fields[0], {"second", 0, 59, nullptr, 0}, &schedule.seconds_);
             !s.ok()) {
    return s;
  }
  size_t at = fields.size() - 5;
  absl::Status status = Fill(fields[at], {"minute", 0, 59, nullptr, 0}, &schedule.minutes_);
  if (status.ok()) status = Fill(fields[at + 1], {"hour", 0, 23, nullptr, 0}, &schedule.hours_);
  if (status.ok()) {
    status = Fill(fields[at + 2], {"day-of-month", 1, 31, nullptr, 0}, &schedule.days_of_month_,
                  &schedule.any_day_of_month_);
  }
  if (status.ok()) {
    status = Fill(fields[at + 3], {"month", 1, 12, kMonthNames.data(), kMonthNames.size()},
                  &schedule.months_);
  }
  if (status.ok()) {
    status = Fill(fields[at + 4], {"day-of-week", 0, 7, kDayNames.data(), kDayNames.size()},
                  &schedule.days_of_week_, &schedule.any_day_of_week_);
  }
  if (!status.ok()) return status;
  return schedule;
}

bool CronSchedule::DayMatches(const std::tm& day) const {
  bool by_month_day = days_of_month_.test(day.tm_mday);
  bool by_week_day = days_of_week_.test(day.tm_wday);
  if (any_day_of_month_) return by_week_day;
  if (any_day_of_week_) return by_month_day;
  return by_month_day || by_week_day;
}

time_t CronSchedule::Next(time_t after) const {
  // Steps forward in absolute time and reads the local fields of each step: local fields
  // are ambiguous in the hour a DST fall-back repeats (mktime may read 01:59:60 as 01:00 of
  // the second pass, or the first), but a time_t only ever moves forward. So the result is
  // after `after`, a time the fall-back repeats is named in both passes, and one that the
  // spring-forward skips is never seen.
  time_t t = after + 1;
  std::tm tm;
  localtime_r(&t, &tm);
  const int last_year = tm.tm_year + 8;
  while (localtime_r(&t, &tm) && tm.tm_year <= last_year) {
    time_t next;
    if (!months_.test(tm.tm_mon + 1)) {
      next = LocalDayStart(tm, 0, 1);
    } else if (!DayMatches(tm)) {
      next = LocalDayStart(tm, 1, 0);
    } else if (!hours_.test(tm.tm_hour)) {
      next = t + 3600 - tm.tm_min * 60 - tm.tm_sec;
      // A zone whose offset changes within the hour (Chatham's at :45) is stepped by the
      // minute there, or the hour's end would be missed.
      std::tm then;
      if (localtime_r(&next, &then) && then.tm_gmtoff != tm.tm_gmtoff) next = t + 60 - tm.tm_sec;
    } else if (!minutes_.test(tm.tm_min)) {
      next = t + 60 - tm.tm_sec;
    } else if (!seconds_.test(tm.tm_sec)) {
      next = t + 1;
    } else {
      return t;
    }
    t = next > t ? next : t + 1;  // mktime's answer, should it not move forward
  }
  return -1;
}

}  // namespace tend::cron
