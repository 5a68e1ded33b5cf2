#include "runtime/loop/cross_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"

namespace tend::loop {

absl::StatusOr<std::unique_ptr<CrossThread>> CrossThread::Create(EventLoop& loop) {
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return errors::FromErrno("eventfd");
  std::unique_ptr<CrossThread> bridge(new CrossThread(loop, std::move(fd)));
  CrossThread* raw = bridge.get();
  if (absl::Status watched = loop.Watch(raw->event_fd_.get(), [raw] { raw->RunQueued(); });
      !watched.ok()) {
    return watched;
  }
  return bridge;
}

CrossThread::CrossThread(EventLoop& loop, UniqueFd event_fd)
    : loop_(loop), event_fd_(std::move(event_fd)) {}

CrossThread::~CrossThread() { loop_.Unwatch(event_fd_.get()); }

void CrossThread::Post(std::function<void()> task, std::function<void()> dropped) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (closed_) {
      lock.unlock();
      if (dropped) dropped();
      return;
    }
    queue_.push_back({std::move(task), std::move(dropped)});
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(event_fd_.get(), &one, sizeof one);
}

void CrossThread::Close() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    dropped.swap(queue_);
  }
  // Outside the lock: a `dropped` may post (and so be dropped itself, at once).
  for (Task& task : dropped) {
    if (task.dropped) task.dropped();
  }
}

void CrossThread::RunQueued() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(event_fd_.get(), &count, sizeof count);
  std::deque<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks.swap(queue_);
  }
  for (Task& task : tasks) task.run();
}

}  // namespace tend::loop
