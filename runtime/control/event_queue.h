#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "runtime/supervise/status.h"
#include "tend/v1/control.pb.h"

namespace tend::control {

// Events passed from the loop's thread to one streaming call's thread. Bounded: a client
// that does not read loses its stream rather than growing tend's memory.
class EventQueue : public supervise::EventListener {
 public:
  static constexpr size_t kMaxQueued = 1024;

  // On the loop's thread.
  void OnEvent(const supervise::Event& event) override;

  // Waits up to `timeout` for the next event. nullopt: none yet, or overflowed().
  std::optional<v1::Event> Next(std::chrono::milliseconds timeout);
  bool overflowed();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<v1::Event> events_;
  bool overflowed_ = false;
};

v1::Event ToProto(const supervise::Event& event);

}  // namespace tend::control
