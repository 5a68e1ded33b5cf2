#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "runtime/loop/event_loop.h"
#include "runtime/loop/time_source.h"

namespace tend::testing {

// Time that moves only when the test says: a loop made with it fires a timer as soon as it
// runs after the test moved the time past the timer's deadline, however long that is. Its
// wall clock moves with it, and the test can also set it (SetWallClock), as NTP's step does.
class SimulatedTime : public loop::TimeSource {
 public:
  Clock::time_point Now() const override { return now_; }
  WallClock::time_point WallNow() const override { return wall_now_; }
  absl::StatusOr<std::unique_ptr<loop::WallAlarm>> AtWallTime(loop::EventLoop& loop,
                                                              WallClock::time_point at,
                                                              Callback on_time,
                                                              Callback on_clock_set) override {
    if (failing_alarms_ > 0) {
      --failing_alarms_;
      return absl::ResourceExhaustedError("timerfd_create: Too many open files");
    }
    return std::unique_ptr<loop::WallAlarm>(
        new Alarm(*this, loop, at, std::move(on_time), std::move(on_clock_set)));
  }
  void OnJump(const void* owner, Callback jumped) override { jumped_[owner] = std::move(jumped); }
  void StopJumps(const void* owner) override { jumped_.erase(owner); }

  void Advance(Clock::duration by) {
    now_ += by;
    wall_now_ += by;
    for (const auto& [owner, jumped] : jumped_) jumped();
  }

  // Sets the wall clock alone: every alarm still waiting runs its `on_clock_set` when its
  // loop next runs, as the kernel's do.
  void SetWallClock(WallClock::time_point to) {
    wall_now_ = to;
    for (Alarm* alarm : alarms_) alarm->ClockSet();
  }

  // The next `count` alarms cannot be armed, as when descriptors run out.
  void FailWallAlarms(int count) { failing_alarms_ = count; }

  // Alarms fire this much before their time as the wall clock reads it then, as a wall clock
  // read through a coarse clock (time(2)) can lag the timer that fired.
  void SetWallReadsBehind(Clock::duration behind) { wall_reads_behind_ = behind; }

  // Moves the time by `by` (rounded up to whole steps) in steps of `step`, running `loop`'s
  // timers due at each step (a repeating timer fires at most once a step).
  void RunFor(loop::EventLoop& loop, Clock::duration by,
              Clock::duration step = std::chrono::milliseconds(100)) {
    for (Clock::duration moved{0}; moved < by; moved += step) {
      Advance(step);
      RunDue(loop);
    }
  }

  // Runs the timers due now and the descriptors ready now, and nothing else that waits: the
  // loop stops at its second round, so a whole round of events is handled first.
  static void RunDue(loop::EventLoop& loop) {
    std::unique_ptr<loop::Timer> stop;
    auto next_round = loop.After(std::chrono::milliseconds(0), [&] {
      stop = loop.After(std::chrono::milliseconds(0), [&loop] { loop.Stop(); });
    });
    static_cast<void>(loop.Run());
  }

 private:
  // A wall alarm is a timer of its loop, for as long as the wall clock is not set.
  class Alarm : public loop::WallAlarm {
   public:
    Alarm(SimulatedTime& time, loop::EventLoop& loop, WallClock::time_point at, Callback on_time,
          Callback on_clock_set)
        : time_(time), loop_(loop), on_clock_set_(std::move(on_clock_set)) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(at - time.wall_now_ -
                                                               time.wall_reads_behind_);
      timer_ = loop.After(std::max(wait, std::chrono::milliseconds(0)),
                          [this, on_time = std::move(on_time)] {
                            spent_ = true;
                            on_time();  // may destroy this alarm
                          });
      time_.alarms_.insert(this);
    }
    ~Alarm() override { time_.alarms_.erase(this); }
    void ClockSet() {
      if (spent_) return;
      spent_ = true;
      timer_ = loop_.After(std::chrono::milliseconds(0), on_clock_set_);
    }

   private:
    SimulatedTime& time_;
    loop::EventLoop& loop_;
    const Callback on_clock_set_;
    std::unique_ptr<loop::Timer> timer_;
    bool spent_ = false;
  };

  Clock::time_point now_{std::chrono::hours(1)};  // any start; not zero, as no clock reads
  // Noon UTC on 2026-01-15: a day with no clock change in any zone the tests use.
  WallClock::time_point wall_now_{std::chrono::seconds(1768478400)};
  Clock::duration wall_reads_behind_{0};
  int failing_alarms_ = 0;
  std::map<const void*, Callback> jumped_;
  std::set<Alarm*> alarms_;
};

}  // namespace tend::testing
