#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::loop {

// Runs functions on the event loop's thread for other threads (the HTTP and gRPC servers'):
// tend's state is only ever touched by the loop's thread, so it needs no locks.
class CrossThread {
 public:
  static absl::StatusOr<std::unique_ptr<CrossThread>> Create(EventLoop& loop);
  ~CrossThread();

  // Queues `task` for the loop's thread. Any thread. The task must own what it uses.
  void Post(std::function<void()> task);

  // Runs `task` on the loop's thread and returns its result; nullopt when the loop has not
  // begun it within `timeout` (a stuck loop, or one that has stopped) or Close() came first.
  // The task never runs after Call returns: one still queued then is marked abandoned and
  // skipped, and one the loop has begun is waited for. So a task may use what the caller
  // lends it, its stack included. Never from the loop's own thread.
  template <typename T>
  std::optional<T> Call(std::function<T()> task, std::chrono::milliseconds timeout);

  // From now on nothing more runs: calls waiting now return nullopt at once, later ones too.
  void Close();

 private:
  // One Call, shared by the caller and the task it posted.
  struct Pending {
    enum class State { kQueued, kRunning, kDone, kAbandoned };
    std::mutex mutex;
    std::condition_variable changed;
    State state = State::kQueued;
  };
  template <typename T>
  struct PendingResult : Pending {
    std::optional<T> value;
  };

  CrossThread(EventLoop& loop, UniqueFd event_fd);
  void RunQueued();
  // Adds a call to those Close() ends; false once closed.
  bool Track(const std::shared_ptr<Pending>& call);
  void Untrack(const std::shared_ptr<Pending>& call);

  EventLoop& loop_;
  const UniqueFd event_fd_;
  std::mutex mutex_;  // guards queue_, pending_ and closed_
  std::deque<std::function<void()>> queue_;
  std::set<std::shared_ptr<Pending>> pending_;
  bool closed_ = false;
};

template <typename T>
std::optional<T> CrossThread::Call(std::function<T()> task, std::chrono::milliseconds timeout) {
  using State = Pending::State;
  auto call = std::make_shared<PendingResult<T>>();
  if (!Track(call)) return std::nullopt;
  Post([call, task = std::move(task)] {
    {
      std::lock_guard<std::mutex> lock(call->mutex);
      if (call->state != State::kQueued) return;  // abandoned: its caller has returned
      call->state = State::kRunning;
    }
    T value = task();
    std::lock_guard<std::mutex> lock(call->mutex);
    call->value = std::move(value);
    call->state = State::kDone;
    call->changed.notify_all();
  });
  std::unique_lock<std::mutex> lock(call->mutex);
  call->changed.wait_for(lock, timeout, [&] {
    return call->state == State::kDone || call->state == State::kAbandoned;
  });
  if (call->state == State::kQueued) call->state = State::kAbandoned;
  // Begun on the loop: it may be using what this caller lent it, so it finishes first.
  call->changed.wait(lock, [&] { return call->state != State::kRunning; });
  std::optional<T> value = call->state == State::kDone ? std::move(call->value) : std::nullopt;
  lock.unlock();
  Untrack(call);
  return value;
}

}  // namespace tend::loop
