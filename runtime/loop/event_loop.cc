#include "runtime/loop/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tend::loop {
namespace {

timespec ToTimespec(std::chrono::milliseconds ms) {
  return timespec{static_cast<time_t>(ms.count() / 1000),
                  static_cast<long>((ms.count() % 1000) * 1000000)};
}

}  // namespace

Timer::~Timer() {
  loop_.Unwatch(fd_);
  close(fd_);
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
  return std::unique_ptr<EventLoop>(new EventLoop(fd));
}

EventLoop::~EventLoop() { close(epoll_fd_); }

void EventLoop::Register(int fd, const Watcher& watcher, bool known) {
  epoll_event event{};
  event.events = EPOLLIN | (watcher.on_writable ? EPOLLOUT : 0);
  event.data.fd = fd;
  epoll_ctl(epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
}

void EventLoop::Watch(int fd, Callback on_readable) {
  bool known = watchers_.count(fd) > 0;
  auto watcher = std::make_shared<Watcher>(Watcher{std::move(on_readable), nullptr});
  Register(fd, *watcher, known);
  watchers_[fd] = std::move(watcher);
}

void EventLoop::WatchWritable(int fd, Callback on_writable) {
  auto it = watchers_.find(fd);
  if (it == watchers_.end()) return;
  auto watcher = std::make_shared<Watcher>(Watcher{it->second->on_readable, std::move(on_writable)});
  Register(fd, *watcher, /*known=*/true);
  it->second = std::move(watcher);
}

void EventLoop::Unwatch(int fd) {
  if (watchers_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

std::unique_ptr<Timer> EventLoop::After(std::chrono::milliseconds delay, Callback on_fire) {
  return ArmTimer(delay, std::chrono::milliseconds(0), std::move(on_fire));
}

std::unique_ptr<Timer> EventLoop::Every(std::chrono::milliseconds period, Callback on_fire) {
  return ArmTimer(period, period, std::move(on_fire));
}

std::unique_ptr<Timer> EventLoop::ArmTimer(std::chrono::milliseconds first,
                                           std::chrono::milliseconds period,
                                           Callback on_fire) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  itimerspec spec{};
  spec.it_interval = ToTimespec(period);
  // A zero it_value disarms a timerfd; the earliest expiry is 1 ns.
  spec.it_value = first.count() > 0 ? ToTimespec(first) : timespec{0, 1};
  timerfd_settime(fd, 0, &spec, nullptr);
  Watch(fd, [fd, on_fire = std::move(on_fire)] {
    uint64_t expirations;
    if (read(fd, &expirations, sizeof expirations) == sizeof expirations) on_fire();
  });
  return std::unique_ptr<Timer>(new Timer(*this, fd));
}

void EventLoop::Run() {
  running_ = true;
  epoll_event events[32];
  while (running_) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n && running_; ++i) {
      int fd = events[i].data.fd;
      auto it = watchers_.find(fd);
      if (it == watchers_.end()) continue;  // unwatched by an earlier callback of this batch
      std::shared_ptr<Watcher> watcher = it->second;
      // Hang-ups and errors go to the reader, which sees end-of-file or the error.
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) watcher->on_readable();
      if (!(events[i].events & EPOLLOUT)) continue;
      it = watchers_.find(fd);  // the reader may have unwatched or changed it
      if (it == watchers_.end() || !it->second->on_writable) continue;
      watcher = it->second;
      watcher->on_writable();
    }
  }
}

}  // namespace tend::loop
