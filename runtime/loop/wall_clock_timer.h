#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::loop {

// A one-shot timer at a time of day (CLOCK_REALTIME), for schedules such as cron: it fires
// when the wall clock reaches `at`, however the clock got there. When the clock is set
// (NTP's step, an operator, a restored VM), the kernel wakes it (TFD_TIMER_CANCEL_ON_SET)
// and `on_clock_set` runs instead, to compute the next time anew. Destroying it cancels it.
class WallClockTimer {
 public:
  using Callback = std::function<void()>;
  static absl::StatusOr<std::unique_ptr<WallClockTimer>> Start(
      EventLoop& loop, std::chrono::system_clock::time_point at, Callback on_time,
      Callback on_clock_set);
  ~WallClockTimer();

 private:
  WallClockTimer(EventLoop& loop, UniqueFd fd, Callback on_time, Callback on_clock_set);
  void OnReadable();

  EventLoop& loop_;
  const UniqueFd fd_;
  Callback on_time_;
  Callback on_clock_set_;
};

}  // namespace tend::loop
