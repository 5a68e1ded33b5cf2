#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/status/statusor.h"
#include "runtime/loop/event_loop.h"

namespace tend::loop {

// Runs functions on the event loop's thread for other threads (the HTTP and gRPC servers'):
// tend's state is only ever touched by the loop's thread, so it needs no locks.
class CrossThread {
 public:
  static absl::StatusOr<std::unique_ptr<CrossThread>> Create(EventLoop& loop);
  ~CrossThread();

  // Queues `task` for the loop's thread. Any thread.
  void Post(std::function<void()> task);

  // Runs `task` on the loop's thread and returns its result; nullopt when the loop has not
  // run it within `timeout` (a stuck loop, or one that has stopped). Never from the loop's
  // own thread.
  template <typename T>
  std::optional<T> Call(std::function<T()> task, std::chrono::milliseconds timeout);

  // From now on Call() gives up at once: the loop will run nothing more.
  void Close();

 private:
  CrossThread(EventLoop& loop, UniqueFd event_fd);
  void RunQueued();

  EventLoop& loop_;
  const UniqueFd event_fd_;
  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  bool closed_ = false;
};

template <typename T>
std::optional<T> CrossThread::Call(std::function<T()> task, std::chrono::milliseconds timeout) {
  // Shared with the task, which may run after this call has given up waiting.
  struct Result {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<T> value;
  };
  auto result = std::make_shared<Result>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return std::nullopt;
  }
  Post([result, task = std::move(task)] {
    T value = task();
    std::lock_guard<std::mutex> lock(result->mutex);
    result->value = std::move(value);
    result->done.notify_all();
  });
  std::unique_lock<std::mutex> lock(result->mutex);
  result->done.wait_for(lock, timeout, [&] { return result->value.has_value(); });
  return std::move(result->value);
}

}  // namespace tend::loop
