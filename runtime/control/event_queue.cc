#include "runtime/control/event_queue.h"

namespace tend::control {

v1::Event ToProto(const supervise::Event& event) {
  using Kind = supervise::Event::Kind;
  v1::Event proto;
  switch (event.kind) {
    case Kind::kWorkerStarted: proto.set_kind(v1::Event::WORKER_STARTED); break;
    case Kind::kWorkerReady: proto.set_kind(v1::Event::WORKER_READY); break;
    case Kind::kWorkerExited: proto.set_kind(v1::Event::WORKER_EXITED); break;
    case Kind::kRestartScheduled: proto.set_kind(v1::Event::RESTART_SCHEDULED); break;
    case Kind::kReloadStarted: proto.set_kind(v1::Event::RELOAD_STARTED); break;
    case Kind::kReloadProgress: proto.set_kind(v1::Event::RELOAD_PROGRESS); break;
    case Kind::kReloadFinished: proto.set_kind(v1::Event::RELOAD_FINISHED); break;
    case Kind::kScaled: proto.set_kind(v1::Event::SCALED); break;
  }
  proto.set_app(event.app);
  proto.set_instance(event.instance);
  proto.set_pid(event.pid);
  proto.set_exit_code(event.exit_code);
  proto.set_ok(event.ok);
  proto.set_detail(event.detail);
  if (event.reason) proto.set_reason(supervise::RestartReasonName(*event.reason));
  proto.set_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
  return proto;
}

void EventQueue::OnEvent(const supervise::Event& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (events_.size() >= kMaxQueued) {
    overflowed_ = true;
  } else {
    events_.push_back(ToProto(event));
  }
  changed_.notify_all();
}

std::optional<v1::Event> EventQueue::Next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return !events_.empty() || overflowed_; });
  if (events_.empty() || overflowed_) return std::nullopt;
  v1::Event next = std::move(events_.front());
  events_.pop_front();
  return next;
}

bool EventQueue::overflowed() {
  std::lock_guard<std::mutex> lock(mutex_);
  return overflowed_;
}

}  // namespace tend::control
