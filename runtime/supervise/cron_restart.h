#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <string>

#include "runtime/cron/cron_schedule.h"
#include "runtime/loop/event_loop.h"
#include "runtime/loop/wall_clock_timer.h"

namespace tend::supervise {

// pm2's cron_restart: at each time the schedule names, `on_time` runs (the app reloads).
// A clock that is set (NTP's step, an operator) has the next time computed anew.
class CronRestart {
 public:
  CronRestart(loop::EventLoop& loop, std::string app, std::string expression,
              cron::CronSchedule schedule, std::function<void()> on_time);

  void Start() { Arm(time(nullptr)); }
  void Stop() { timer_.reset(); }

 private:
  // Arms the timer for the schedule's first time after `after` (and after now).
  void Arm(time_t after);

  loop::EventLoop& loop_;
  const std::string app_;
  const std::string expression_;
  const cron::CronSchedule schedule_;
  const std::function<void()> on_time_;
  std::unique_ptr<loop::WallClockTimer> timer_;
};

}  // namespace tend::supervise
