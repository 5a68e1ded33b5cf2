#include "runtime/loop/wall_clock_timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"

namespace tend::loop {

absl::StatusOr<std::unique_ptr<WallClockTimer>> WallClockTimer::Start(
    EventLoop& loop, std::chrono::system_clock::time_point at, Callback on_time,
    Callback on_clock_set) {
  UniqueFd fd(timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!fd) return errors::FromErrno("timerfd_create");
  auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch());
  itimerspec spec{};
  spec.it_value.tv_sec = std::max<int64_t>(0, since_epoch.count() / 1000000000);
  spec.it_value.tv_nsec = since_epoch.count() > 0 ? since_epoch.count() % 1000000000 : 0;
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  if (timerfd_settime(fd.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, nullptr) != 0) {
    return errors::FromErrno("timerfd_settime");
  }
  std::unique_ptr<WallClockTimer> timer(
      new WallClockTimer(loop, std::move(fd), std::move(on_time), std::move(on_clock_set)));
  WallClockTimer* raw = timer.get();
  if (absl::Status watched = loop.Watch(raw->fd_.get(), [raw] { raw->OnReadable(); });
      !watched.ok()) {
    return watched;
  }
  return timer;
}

WallClockTimer::WallClockTimer(EventLoop& loop, UniqueFd fd, Callback on_time,
                               Callback on_clock_set)
    : loop_(loop),
      fd_(std::move(fd)),
      on_time_(std::move(on_time)),
      on_clock_set_(std::move(on_clock_set)) {}

WallClockTimer::~WallClockTimer() { loop_.Unwatch(fd_.get()); }

void WallClockTimer::OnReadable() {
  uint64_t expirations;
  ssize_t n = read(fd_.get(), &expirations, sizeof expirations);
  int error = n < 0 ? errno : 0;
  if (error == EAGAIN || error == EINTR) return;
  loop_.Unwatch(fd_.get());  // one-shot: nothing more to wait for
  // ECANCELED: the clock was set before the time came. A copy runs: the callback may
  // destroy this timer.
  Callback run = error == ECANCELED ? on_clock_set_ : on_time_;
  run();
}

}  // namespace tend::loop
