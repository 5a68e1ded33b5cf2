#include "runtime/loop/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"

namespace tend::loop {
void AbortOffLoopThread(const char* entry_point) {
  fprintf(stderr, "tend: %s called off the event loop's thread\n", entry_point);
  abort();
}

Timer::~Timer() { loop_.CancelTimer(id_); }

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(TimeSource& time) {
  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return errors::FromErrno("epoll_create1");
  UniqueFd timer_fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd) return errors::FromErrno("timerfd_create");
  std::unique_ptr<EventLoop> loop(new EventLoop(time, std::move(epoll_fd), std::move(timer_fd)));
  if (absl::Status watched =
          loop->Watch(loop->timer_fd_.get(), [raw = loop.get()] { raw->FireDueTimers(); });
      !watched.ok()) {
    return watched;
  }
  // Moved by a test: timers now due must fire, and the timerfd may be armed too late.
  time.OnJump(loop.get(), [raw = loop.get()] {
    raw->armed_for_ = Clock::time_point::max();
    raw->ArmTimerFd();
  });
  return loop;
}

EventLoop::~EventLoop() { time_.StopJumps(this); }

absl::Status EventLoop::Register(int fd, const Watcher& watcher, bool known) {
  epoll_event event{};
  event.events = (watcher.on_readable ? EPOLLIN : 0u) | (watcher.on_writable ? EPOLLOUT : 0u);
  event.data.fd = fd;
  // A parked descriptor left the epoll set: it is added again.
  bool in_set = known && !watchers_.at(fd)->parked;
  if (epoll_ctl(epoll_fd_.get(), in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) != 0) {
    return errors::FromErrno(absl::StrCat("epoll_ctl(fd ", fd, ")"));
  }
  return absl::OkStatus();
}

absl::Status EventLoop::Watch(int fd, Callback on_readable) {
  bool known = watchers_.count(fd) > 0;
  auto watcher = std::make_shared<Watcher>(Watcher{std::move(on_readable), nullptr});
  if (absl::Status registered = Register(fd, *watcher, known); !registered.ok()) {
    return registered;
  }
  watchers_[fd] = std::move(watcher);
  return absl::OkStatus();
}

absl::Status EventLoop::WatchWritable(int fd, Callback on_writable) {
  auto it = watchers_.find(fd);
  if (it == watchers_.end()) return absl::FailedPreconditionError("fd not watched");
  auto watcher =
      std::make_shared<Watcher>(Watcher{it->second->on_readable, std::move(on_writable)});
  if (absl::Status registered = Register(fd, *watcher, /*known=*/true); !registered.ok()) {
    return registered;
  }
  it->second = std::move(watcher);
  return absl::OkStatus();
}

void EventLoop::Park(int fd, Watcher& watcher) {
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr) == 0) watcher.parked = true;
}

void EventLoop::Unwatch(int fd) {
  // A descriptor already closed has left the epoll set by itself: ignore EBADF and ENOENT.
  if (watchers_.erase(fd) > 0) epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

std::unique_ptr<Timer> EventLoop::After(std::chrono::milliseconds delay, Callback on_fire) {
  return AddTimer(delay, std::chrono::milliseconds(0), std::move(on_fire));
}

std::unique_ptr<Timer> EventLoop::Every(std::chrono::milliseconds period, Callback on_fire) {
  return AddTimer(period, period, std::move(on_fire));
}

std::unique_ptr<Timer> EventLoop::AddTimer(std::chrono::milliseconds first,
                                           std::chrono::milliseconds period, Callback on_fire) {
  uint64_t id = next_timer_id_++;
  Clock::time_point due = time_.Now() + std::max(first, std::chrono::milliseconds(0));
  timers_[id] = {due, period, std::make_shared<Callback>(std::move(on_fire))};
  due_.insert({due, id});
  ArmTimerFd();
  return std::unique_ptr<Timer>(new Timer(*this, id));
}

void EventLoop::CancelTimer(uint64_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  due_.erase({it->second.due, id});
  timers_.erase(it);
  // The timerfd stays armed for the cancelled deadline: firing early only finds nothing due.
}

void EventLoop::ArmTimerFd() {
  if (due_.empty() || due_.begin()->first >= armed_for_) return;
  Clock::time_point due = due_.begin()->first;
  // On the monotonic clock, as far ahead as the deadline is on the loop's time (the same, in
  // real time; none, once a simulated time has passed it).
  Clock::time_point on_monotonic = Clock::now() + std::max(Clock::duration(0), due - time_.Now());
  auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(on_monotonic.time_since_epoch());
  itimerspec spec{};
  // steady_clock is CLOCK_MONOTONIC; a zero it_value would disarm, so 1 ns at the least.
  spec.it_value.tv_sec = static_cast<time_t>(since_epoch.count() / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(since_epoch.count() % 1000000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  if (timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    failure_ = errors::FromErrno("timerfd_settime");
    running_ = false;
    return;
  }
  armed_for_ = due;
}

void EventLoop::FireDueTimers() {
  uint64_t expirations;
  if (read(timer_fd_.get(), &expirations, sizeof expirations) < 0 && errno != EAGAIN) {
    failure_ = errors::FromErrno("read(timerfd)");
    running_ = false;
    return;
  }
  armed_for_ = Clock::time_point::max();
  Clock::time_point now = time_.Now();
  // Only the timers due now: one that a callback arms for "now" waits for the next round,
  // so a repeating zero-delay timer cannot starve the descriptors.
  std::vector<uint64_t> due;
  for (auto it = due_.begin(); it != due_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  for (uint64_t id : due) {
    if (!running_) break;
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled by an earlier callback
    TimerEntry& entry = it->second;
    std::shared_ptr<Callback> on_fire = entry.on_fire;
    due_.erase({entry.due, id});
    if (entry.period.count() > 0) {
      // One that fell behind (a stalled loop) fires once, not again at once to catch up.
      entry.due += entry.period;
      if (entry.due <= now) entry.due = now + entry.period;
      due_.insert({entry.due, id});
    } else {
      timers_.erase(it);
    }
    (*on_fire)();
  }
  ArmTimerFd();
}

absl::Status EventLoop::Run() {
  thread_ = std::this_thread::get_id();
  running_ = failure_.ok();
  epoll_event events[32];
  while (running_) {
    int n = epoll_wait(epoll_fd_.get(), events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      failure_ = errors::FromErrno("epoll_wait");
      break;
    }
    for (int i = 0; i < n && running_; ++i) {
      int fd = events[i].data.fd;
      auto it = watchers_.find(fd);
      if (it == watchers_.end()) continue;  // unwatched by an earlier callback of this batch
      std::shared_ptr<Watcher> watcher = it->second;
      // Hang-ups and errors go to the reader, which sees end-of-file or the error; with no
      // reader, to the writer, which sees the error.
      bool failed = events[i].events & (EPOLLHUP | EPOLLERR);
      bool writable = events[i].events & EPOLLOUT;
      if (watcher->on_readable && ((events[i].events & EPOLLIN) || failed)) {
        watcher->on_readable();
      } else if (failed) {
        writable = true;
      }
      if (!writable) continue;
      it = watchers_.find(fd);  // the reader may have unwatched or changed it
      if (it == watchers_.end()) continue;
      if (!it->second->on_writable) {
        // A hang-up nobody watches for (reading paused, nothing to write): epoll would
        // report it at every turn, so the descriptor leaves the set until it is watched
        // again, and its owner learns of it then.
        if (failed && !it->second->on_readable) Park(fd, *it->second);
        continue;
      }
      watcher = it->second;
      watcher->on_writable();
    }
  }
  return failure_;
}

}  // namespace tend::loop
