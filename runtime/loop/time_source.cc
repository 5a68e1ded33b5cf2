#include "runtime/loop/time_source.h"

#include "runtime/loop/wall_clock_timer.h"

namespace tend::loop {
namespace {

class KernelTime : public TimeSource {
 public:
  Clock::time_point Now() const override { return Clock::now(); }
  WallClock::time_point WallNow() const override { return WallClock::now(); }
  absl::StatusOr<std::unique_ptr<WallAlarm>> AtWallTime(EventLoop& loop, WallClock::time_point at,
                                                        Callback on_time,
                                                        Callback on_clock_set) override {
    absl::StatusOr<std::unique_ptr<WallClockTimer>> timer =
        WallClockTimer::Start(loop, at, std::move(on_time), std::move(on_clock_set));
    if (!timer.ok()) return timer.status();
    return std::unique_ptr<WallAlarm>(std::move(*timer));
  }
};

}  // namespace

TimeSource& RealTime() {
  static KernelTime* const time = new KernelTime;  // never destroyed: no exit-time order
  return *time;
}

}  // namespace tend::loop
