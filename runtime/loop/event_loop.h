#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "absl/status/statusor.h"

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
  Timer(EventLoop& loop, int fd) : loop_(loop), fd_(fd) {}
  EventLoop& loop_;
  int fd_;
};

// The single-threaded event loop: epoll over file descriptors, with timers as timerfds.
// Every callback runs on the thread that called Run(); nothing here takes a lock. An idle
// loop sleeps in epoll_wait with no timeout, so it costs no periodic wakeups.
class EventLoop {
 public:
  using Callback = std::function<void()>;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();

  // Calls `on_readable` whenever `fd` is readable (level-triggered) until Unwatch(fd).
  void Watch(int fd, Callback on_readable);
  // Also calls `on_writable` while `fd` is writable; an empty callback stops that. `fd` must
  // be watched already.
  void WatchWritable(int fd, Callback on_writable);
  void Unwatch(int fd);

  std::unique_ptr<Timer> After(std::chrono::milliseconds delay, Callback on_fire);
  std::unique_ptr<Timer> Every(std::chrono::milliseconds period, Callback on_fire);

  // Runs callbacks until Stop() is called from one of them.
  void Run();
  void Stop() { running_ = false; }

 private:
  friend class Timer;
  explicit EventLoop(int epoll_fd) : epoll_fd_(epoll_fd) {}
  std::unique_ptr<Timer> ArmTimer(std::chrono::milliseconds first,
                                  std::chrono::milliseconds period, Callback on_fire);

  struct Watcher {
    Callback on_readable;
    Callback on_writable;
  };
  void Register(int fd, const Watcher& watcher, bool known);

  int epoll_fd_;
  bool running_ = false;
  // Shared so that a callback that unwatches its own fd is not destroyed while it runs.
  std::map<int, std::shared_ptr<Watcher>> watchers_;
};

}  // namespace tend::loop
