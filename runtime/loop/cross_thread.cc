#include "runtime/loop/cross_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tend::loop {

absl::StatusOr<std::unique_ptr<CrossThread>> CrossThread::Create(EventLoop& loop) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  return std::unique_ptr<CrossThread>(new CrossThread(loop, fd));
}

CrossThread::CrossThread(EventLoop& loop, int event_fd) : loop_(loop), event_fd_(event_fd) {
  loop_.Watch(event_fd_, [this] { RunQueued(); });
}

CrossThread::~CrossThread() {
  loop_.Unwatch(event_fd_);
  close(event_fd_);
}

void CrossThread::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    queue_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof one);
}

void CrossThread::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  queue_.clear();
}

void CrossThread::RunQueued() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(event_fd_, &count, sizeof count);
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks.swap(queue_);
  }
  for (auto& task : tasks) task();
}

}  // namespace tend::loop
