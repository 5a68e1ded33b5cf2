#pragma once

#include <chrono>
#include <functional>

namespace tend::loop {

// Where an event loop reads the time. Real time is the monotonic clock; a test passes a
// simulated time and moves it itself, as Envoy's simulated time system does, so timing logic
// is proven without sleeping.
class TimeSource {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~TimeSource() = default;
  virtual Clock::time_point Now() const = 0;
  // `jumped` runs each time the time moves by more than its own passing (simulated time,
  // moved by a test), until StopJumps(owner). Real time never jumps.
  virtual void OnJump(const void* owner, std::function<void()> jumped) {
    static_cast<void>(owner);
    static_cast<void>(jumped);
  }
  virtual void StopJumps(const void* owner) { static_cast<void>(owner); }
};

// The monotonic clock (CLOCK_MONOTONIC).
TimeSource& RealTime();

}  // namespace tend::loop
