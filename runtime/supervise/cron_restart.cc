#include "runtime/supervise/cron_restart.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/logs/diagnostics.h"

namespace tend::supervise {

CronRestart::CronRestart(loop::EventLoop& loop, std::string app, std::string expression,
                         cron::CronSchedule schedule, std::function<void()> on_time)
    : loop_(loop),
      app_(std::move(app)),
      expression_(std::move(expression)),
      schedule_(schedule),
      on_time_(std::move(on_time)) {}

time_t CronRestart::Now() const { return std::chrono::system_clock::to_time_t(loop_.WallNow()); }

void CronRestart::Arm(time_t after) {
  // From the time that ran, not the clock alone, which can still read the second before;
  // and never a time that is not after now, which would run at once.
  time_t next = schedule_.Next(std::max(after, Now()));
  if (next < 0) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_, "' names no future time"));
    return;
  }
  auto alarm = loop_.AtWallTime(
      std::chrono::system_clock::from_time_t(next), [this, next] { Run(next); },
      [this, next] { ClockSet(next); });
  if (!alarm.ok()) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_,
                            "' cannot be scheduled: ", alarm.status().message()));
    return;
  }
  alarm_ = std::move(*alarm);
}

void CronRestart::Run(time_t at) {
  last_run_ = at;
  logs::Info(absl::StrCat(app_, ": cron '", expression_, "'"));
  on_time_();
  Arm(at);
}

void CronRestart::ClockSet(time_t pending) {
  time_t now = Now();
  if (pending <= now) {  // stepped forwards past the pending time
    if (now - pending < kSmallStep) {
      Run(pending);
    } else {
      Arm(now);
    }
    return;
  }
  bool ran_ahead_of_now = last_run_ > now && last_run_ - now < kSmallStep;
  Arm(ran_ahead_of_now ? last_run_ : now);
}

}  // namespace tend::supervise
