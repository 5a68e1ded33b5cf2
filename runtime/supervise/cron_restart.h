#pragma once

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <string>

#include "runtime/cron/cron_schedule.h"
#include "runtime/loop/event_loop.h"

namespace tend::supervise {

// pm2's cron_restart: at each time the schedule names, `on_time` runs (the app reloads).
// Times passed while the loop was late run once. When the wall clock is set, a step of
// under kSmallStep (measured against the monotonic clock) is taken as a correction, a rule
// like Vixie cron's: a time stepped over forwards runs at once (once, however many it
// stepped over), and one already run is not run again after a step back. A longer step
// starts the schedule anew from the new time. An alarm that cannot be armed (no
// descriptor) is tried again every kRetry.
class CronRestart {
 public:
  static constexpr std::chrono::hours kSmallStep{3};
  static constexpr std::chrono::seconds kRetry{10};

  CronRestart(loop::EventLoop& loop, std::string app, std::string expression,
              cron::CronSchedule schedule, std::function<void()> on_time);

  void Start() { Arm(Now()); }
  void Stop() {
    alarm_.reset();
    retry_.reset();
  }

 private:
  time_t Now() const;
  // Arms the alarm for the schedule's first time after `after` (and after now).
  void Arm(time_t after);
  void Run(time_t at);
  void ClockSet(time_t pending);

  loop::EventLoop& loop_;
  const std::string app_;
  const std::string expression_;
  const cron::CronSchedule schedule_;
  const std::function<void()> on_time_;
  std::unique_ptr<loop::WallAlarm> alarm_;
  std::unique_ptr<loop::Timer> retry_;
  // The two clocks when the alarm was armed: a clock set is told from time passing by them.
  std::chrono::system_clock::time_point armed_wall_;
  loop::EventLoop::Clock::time_point armed_monotonic_;
  time_t last_run_ = -1;  // the latest time run (or, after a catch-up, the time it ran)
};

}  // namespace tend::supervise
