#include "runtime/supervise/cron_restart.h"

#include <algorithm>
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
  retry_.reset();
  // From the time that ran, not the clock alone, which can still read the second before;
  // and never a time that is not after now, which would run at once.
  time_t next = schedule_.Next(std::max(after, Now()));
  if (next < 0) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_, "' names no future time"));
    return;
  }
  armed_wall_ = loop_.WallNow();
  armed_monotonic_ = loop_.Now();
  auto alarm = loop_.AtWallTime(
      std::chrono::system_clock::from_time_t(next), [this, next] { Run(next); },
      [this, next] { ClockSet(next); });
  if (!alarm.ok()) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_, "' cannot be scheduled (",
                            alarm.status().message(), "): trying again in ", kRetry.count(), " s"));
    retry_ = loop_.After(kRetry, [this, after] { Arm(after); });
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
  auto step = loop_.WallNow() - (armed_wall_ + (loop_.Now() - armed_monotonic_));
  time_t now = Now();
  if (step >= kSmallStep || step <= -kSmallStep) {
    last_run_ = -1;  // a new clock: what ran on the old one says nothing of it
    Arm(now);
  } else if (pending <= now) {  // stepped over: run it once, standing for all it stepped over
    Run(pending);
    last_run_ = now;
  } else {
    Arm(std::max(last_run_, now));  // stepped back: what ran since the new now is not run again
  }
}

}  // namespace tend::supervise
