#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::loop {

// Runs functions on the event loop's thread for other threads (gRPC's):
// tend's state is only ever touched by the loop's thread, so it needs no locks.
class CrossThread {
 public:
  static absl::StatusOr<std::unique_ptr<CrossThread>> Create(EventLoop& loop);
  ~CrossThread();

  // Queues `task` for the loop's thread. Any thread. The task must own what it uses, or
  // share it (a shared_ptr): the caller may be gone when it runs. If it never runs (the
  // bridge closed first), `dropped` runs instead, at Close() or at once if closed already,
  // so whoever waits for the task hears of it.
  void Post(std::function<void()> task, std::function<void()> dropped = nullptr);

  // From now on nothing more runs on the loop: each task still queued, and each posted
  // later, has its `dropped` run instead.
  void Close();

 private:
  CrossThread(EventLoop& loop, UniqueFd event_fd);
  void RunQueued();

  EventLoop& loop_;
  const UniqueFd event_fd_;
  struct Task {
    std::function<void()> run;
    std::function<void()> dropped;
  };
  std::mutex mutex_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mutex_);
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace tend::loop
