#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"
#include "runtime/loop/time_source.h"

namespace tend::loop {

// Real time's WallAlarm: a timerfd on CLOCK_REALTIME. When the clock is set, the kernel
// wakes it (TFD_TIMER_CANCEL_ON_SET) and `on_clock_set` runs instead of `on_time`.
class WallClockTimer : public WallAlarm {
 public:
  using Callback = std::function<void()>;
  static absl::StatusOr<std::unique_ptr<WallClockTimer>> Start(
      EventLoop& loop, std::chrono::system_clock::time_point at, Callback on_time,
      Callback on_clock_set);
  ~WallClockTimer() override;

 private:
  WallClockTimer(EventLoop& loop, UniqueFd fd, Callback on_time, Callback on_clock_set);
  void OnReadable();

  EventLoop& loop_;
  const UniqueFd fd_;
  Callback on_time_;
  Callback on_clock_set_;
};

}  // namespace tend::loop
