#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"

namespace tend::loop {

class EventLoop;

// A one-shot wait for a time of day; destroying it cancels it.
class WallAlarm {
 public:
  virtual ~WallAlarm() = default;
};

// Where an event loop reads the time: the monotonic clock for its timers, the wall clock for
// schedules such as cron. Real time reads the kernel's; a test passes a simulated time and
// moves it itself, as Envoy's simulated time system does, so timing logic is proven without
// sleeping.
class TimeSource {
 public:
  using Clock = std::chrono::steady_clock;
  using WallClock = std::chrono::system_clock;
  using Callback = std::function<void()>;
  virtual ~TimeSource() = default;
  virtual Clock::time_point Now() const = 0;
  virtual WallClock::time_point WallNow() const = 0;
  // Runs `on_time` on `loop` once the wall clock reaches `at` (at once if it has), however
  // the clock got there; if the clock is set first (NTP's step, an operator, a restored
  // VM), runs `on_clock_set` instead.
  virtual absl::StatusOr<std::unique_ptr<WallAlarm>> AtWallTime(EventLoop& loop,
                                                                WallClock::time_point at,
                                                                Callback on_time,
                                                                Callback on_clock_set) = 0;
  // `jumped` runs each time the time moves by more than its own passing (simulated time,
  // moved by a test), until StopJumps(owner). Real time never jumps.
  virtual void OnJump(const void* owner, Callback jumped) {
    static_cast<void>(owner);
    static_cast<void>(jumped);
  }
  virtual void StopJumps(const void* owner) { static_cast<void>(owner); }
};

// The kernel's clocks: CLOCK_MONOTONIC, and CLOCK_REALTIME with its alarms in a timerfd.
TimeSource& RealTime();

}  // namespace tend::loop
