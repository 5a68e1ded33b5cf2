#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <utility>

#include "runtime/loop/event_loop.h"
#include "runtime/loop/time_source.h"

namespace tend::testing {

// Time that moves only when the test says: a loop made with it fires a timer as soon as it
// runs after the test moved the time past the timer's deadline, however long that is.
class SimulatedTime : public loop::TimeSource {
 public:
  Clock::time_point Now() const override { return now_; }
  void OnJump(const void* owner, std::function<void()> jumped) override {
    jumped_[owner] = std::move(jumped);
  }
  void StopJumps(const void* owner) override { jumped_.erase(owner); }

  void Advance(Clock::duration by) {
    now_ += by;
    for (const auto& [owner, jumped] : jumped_) jumped();
  }

  // Moves the time by `by` (rounded up to whole steps) in steps of `step`, running `loop`'s
  // timers due at each step (a repeating timer fires at most once a step).
  void RunFor(loop::EventLoop& loop, Clock::duration by,
              Clock::duration step = std::chrono::milliseconds(100)) {
    for (Clock::duration moved{0}; moved < by; moved += step) {
      Advance(step);
      RunDue(loop);
    }
  }

  // Runs the timers due now, and nothing else that waits.
  static void RunDue(loop::EventLoop& loop) {
    auto stop = loop.After(std::chrono::milliseconds(0), [&loop] { loop.Stop(); });
    static_cast<void>(loop.Run());
  }

 private:
  Clock::time_point now_{std::chrono::hours(1)};  // any start; not zero, as no clock reads
  std::map<const void*, std::function<void()>> jumped_;
};

}  // namespace tend::testing
