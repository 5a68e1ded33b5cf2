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

void CronRestart::Arm(time_t after) {
  // From the time that fired, not a fresh time(), which can still read the second before;
  // and never a time that is not after now, which would fire at once.
  time_t next = schedule_.Next(std::max(after, time(nullptr)));
  if (next < 0) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_, "' names no future time"));
    return;
  }
  auto timer = loop::WallClockTimer::Start(
      loop_, std::chrono::system_clock::from_time_t(next),
      [this, next] {
        logs::Info(absl::StrCat(app_, ": cron '", expression_, "'"));
        on_time_();
        Arm(next);
      },
      [this] { Arm(time(nullptr)); });  // the clock was set: the next time is another
  if (!timer.ok()) {
    logs::Warn(absl::StrCat(app_, ": cron '", expression_,
                            "' cannot be scheduled: ", timer.status().message()));
    return;
  }
  timer_ = std::move(*timer);
}

}  // namespace tend::supervise
