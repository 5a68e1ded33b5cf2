#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/time_source.h"

namespace tend::loop {

class EventLoop;

// A one-shot or repeating timer. Destroying it cancels it, so an owner that holds the
// unique_ptr never sees a callback after it let go.
class Timer {
 public:
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  friend class EventLoop;
  Timer(EventLoop& loop, uint64_t id) : loop_(loop), id_(id) {}
  EventLoop& loop_;
  const uint64_t id_;
};

// The single-threaded event loop: epoll over file descriptors; every timer lives in one
// timerfd, so arming a timer needs no descriptor and cannot fail when descriptors run out.
// Every callback runs on the thread that called Run(); nothing here takes a lock. An idle
// loop sleeps in epoll_wait with no timeout, so it costs no periodic wakeups.
class EventLoop {
 public:
  using Callback = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  // Timers keep `time` (which outlives the loop): real time, or a test's simulated time.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(TimeSource& time = RealTime());
  ~EventLoop();

  // Calls `on_readable` whenever `fd` is readable (level-triggered) until Unwatch(fd); an
  // empty callback pauses reading: a hang-up then goes to the writer, if any, and with none
  // it is kept until `fd` is watched again (it cannot spin the loop meanwhile).
  // Fails when epoll cannot take the descriptor (then nothing is watched).
  [[nodiscard]] absl::Status Watch(int fd, Callback on_readable);
  // Also calls `on_writable` while `fd` is writable; an empty callback stops that. `fd` must
  // be watched already.
  [[nodiscard]] absl::Status WatchWritable(int fd, Callback on_writable);
  void Unwatch(int fd);

  std::unique_ptr<Timer> After(std::chrono::milliseconds delay, Callback on_fire);
  std::unique_ptr<Timer> Every(std::chrono::milliseconds period, Callback on_fire);

  // The time as this loop's timers read it, and the time of day (TimeSource).
  Clock::time_point Now() const { return time_.Now(); }
  TimeSource::WallClock::time_point WallNow() const { return time_.WallNow(); }
  absl::StatusOr<std::unique_ptr<WallAlarm>> AtWallTime(TimeSource::WallClock::time_point at,
                                                        Callback on_time, Callback on_clock_set) {
    return time_.AtWallTime(*this, at, std::move(on_time), std::move(on_clock_set));
  }

  // Runs callbacks until Stop() is called from one of them (OK), or until the loop itself
  // fails (epoll_wait or the timerfd): that error, which the caller must treat as fatal.
  absl::Status Run();
  void Stop() { running_ = false; }

  // Whether the caller is on the loop's thread: the one that runs it (before Run(), the one
  // that created it, where tend sets up its state).
  bool OnLoopThread() const { return std::this_thread::get_id() == thread_; }

 private:
  friend class Timer;
  EventLoop(TimeSource& time, UniqueFd epoll_fd, UniqueFd timer_fd)
      : time_(time), epoll_fd_(std::move(epoll_fd)), timer_fd_(std::move(timer_fd)) {}
  std::unique_ptr<Timer> AddTimer(std::chrono::milliseconds first, std::chrono::milliseconds period,
                                  Callback on_fire);
  void CancelTimer(uint64_t id);
  void FireDueTimers();
  void ArmTimerFd();

  struct Watcher {
    Callback on_readable;
    Callback on_writable;
    bool parked = false;  // out of the epoll set: it hung up while nobody watched for it
  };
  absl::Status Register(int fd, const Watcher& watcher, bool known);
  void Park(int fd, Watcher& watcher);

  struct TimerEntry {
    Clock::time_point due;
    std::chrono::milliseconds period;  // zero: one-shot
    std::shared_ptr<Callback> on_fire;
  };

  std::atomic<std::thread::id> thread_{std::this_thread::get_id()};  // read on any thread
  TimeSource& time_;
  UniqueFd epoll_fd_;
  UniqueFd timer_fd_;
  bool running_ = false;
  absl::Status failure_;  // set when the loop itself failed
  // Shared so that a callback that unwatches its own fd is not destroyed while it runs.
  std::map<int, std::shared_ptr<Watcher>> watchers_;
  uint64_t next_timer_id_ = 0;
  std::map<uint64_t, TimerEntry> timers_;
  std::set<std::pair<Clock::time_point, uint64_t>> due_;  // earliest first
  Clock::time_point armed_for_ = Clock::time_point::max();
};

// tend's state belongs to the loop's thread; other threads (gRPC's) reach it through
// CrossThread. Entry points that touch it say so: in debug and sanitizer builds a call from
// another thread aborts, naming the entry point.
void AbortOffLoopThread(const char* entry_point);
#ifdef NDEBUG
#define TEND_ON_LOOP_THREAD(event_loop) static_cast<void>(event_loop)
#else
#define TEND_ON_LOOP_THREAD(event_loop) \
  ((event_loop).OnLoopThread() ? static_cast<void>(0) : ::tend::loop::AbortOffLoopThread(__func__))
#endif

}  // namespace tend::loop
