#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

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
  // share it (a shared_ptr): the caller may be gone when it runs, or it may never run.
  void Post(std::function<void()> task);

  // From now on nothing more runs: tasks still queued are dropped, later ones too.
  void Close();

 private:
  CrossThread(EventLoop& loop, UniqueFd event_fd);
  void RunQueued();

  EventLoop& loop_;
  const UniqueFd event_fd_;
  std::mutex mutex_;  // guards queue_ and closed_
  std::deque<std::function<void()>> queue_;
  bool closed_ = false;
};

}  // namespace tend::loop
