#include "runtime/control/event_stream.h"

#include <deque>
#include <mutex>
#include <optional>

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

Subscriptions::~Subscriptions() {
  for (const auto& [listener, owned] : listeners_) supervisor_.RemoveListener(listener);
}

void Subscriptions::Add(std::shared_ptr<supervise::EventListener> listener) {
  supervisor_.AddListener(listener.get());
  listeners_.emplace(listener.get(), std::move(listener));
}

void Subscriptions::Remove(supervise::EventListener* listener) {
  supervisor_.RemoveListener(listener);
  listeners_.erase(listener);
}

namespace {

using Reactor = grpc::ServerWriteReactor<v1::Event>;

// What the loop's thread and gRPC's threads share about one stream. Reactor calls are made
// outside the lock: gRPC may run a reaction inline, on the calling thread.
class Outbox {
 public:
  explicit Outbox(Reactor* reactor) : reactor_(reactor) {}

  // Queues an event to write; `last`: finish with OK once it is written.
  void Send(v1::Event event, bool last) {
    const v1::Event* write = nullptr;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_) return;
      if (queue_.size() >= kMaxQueuedEvents) {
        finish = EndLocked(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("the client read events slower than they came: at most ",
                         kMaxQueuedEvents, " wait for it")));
      } else {
        queue_.push_back(std::move(event));
        if (last) ending_ = grpc::Status::OK;
        write = StartLocked();
      }
    }
    Act(write, finish);
  }

  // Finishes with `status`, once the write in flight (if any) is done; queued events are
  // dropped.
  void End(grpc::Status status) {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_) return;
      finish = EndLocked(std::move(status));
    }
    Act(nullptr, finish);
  }

  void WriteDone(bool ok) {
    const v1::Event* write = nullptr;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.pop_front();
      writing_ = false;
      if (!ok && !ending_) ending_ = grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      if (!ok) queue_.clear();
      write = StartLocked();
      if (!write) finish = FinishLocked();
    }
    Act(write, finish);
  }

  void SendHeaders() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_) return;
      sending_headers_ = true;
    }
    reactor_->StartSendInitialMetadata();
  }

  void HeadersDone() {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sending_headers_ = false;
      finish = FinishLocked();
    }
    Act(nullptr, finish);
  }

 private:
  // The next write to start, if none is in flight.
  const v1::Event* StartLocked() {
    if (writing_ || queue_.empty()) return nullptr;
    writing_ = true;
    return &queue_.front();  // stays put until its write is done: deque keeps references
  }

  std::optional<grpc::Status> EndLocked(grpc::Status status) {
    ending_ = std::move(status);
    queue_.resize(writing_ ? 1 : 0);  // keeps the one being written
    return FinishLocked();
  }

  // The status to finish with now: once ending and no operation is in flight, since the
  // reactor may be gone as soon as Finish is called.
  std::optional<grpc::Status> FinishLocked() {
    if (!ending_ || finished_ || writing_ || sending_headers_) return std::nullopt;
    finished_ = true;
    return ending_;
  }

  void Act(const v1::Event* write, const std::optional<grpc::Status>& finish) {
    if (write) reactor_->StartWrite(write);
    if (finish) reactor_->Finish(*finish);
  }

  Reactor* const reactor_;  // alive until Finish: gRPC ends the call only after it
  std::mutex mutex_;
  std::deque<v1::Event> queue_;  // front() is in flight while writing_
  bool writing_ = false;
  bool sending_headers_ = false;
  std::optional<grpc::Status> ending_;  // set: nothing more is queued
  bool finished_ = false;               // Finish has been called
};

// The listener the supervisor tells, on the loop's thread.
class Feed final : public supervise::EventListener {
 public:
  Feed(std::shared_ptr<Outbox> outbox, EventFilter filter)
      : outbox_(std::move(outbox)), filter_(std::move(filter)) {}
  void OnEvent(const supervise::Event& event) override {
    v1::Event proto = ToProto(event);
    Pick pick = filter_ ? filter_(proto) : Pick::kSend;
    if (pick != Pick::kSkip) outbox_->Send(std::move(proto), pick == Pick::kSendLast);
  }

 private:
  std::shared_ptr<Outbox> outbox_;
  EventFilter filter_;
};

class EventStream final : public Reactor {
 public:
  EventStream(loop::CrossThread& bridge, Subscriptions& subscriptions, StreamLimit& limit)
      : bridge_(bridge), subscriptions_(subscriptions), limit_(limit),
        outbox_(std::make_shared<Outbox>(this)) {}

  void Begin(EventStreamOptions options) {
    feed_ = std::make_shared<Feed>(outbox_, std::move(options.filter));
    bridge_.Post([outbox = outbox_, feed = feed_, subscriptions = &subscriptions_,
                  begin = std::move(options.begin), headers = options.headers_when_subscribed] {
      subscriptions->Add(feed);
      absl::Status begun = begin ? begin() : absl::OkStatus();
      if (!begun.ok()) {
        subscriptions->Remove(feed.get());
        outbox->End(grpc::Status(static_cast<grpc::StatusCode>(begun.code()),
                                 std::string(begun.message())));
      } else if (headers) {
        outbox->SendHeaders();
      }
    }, [outbox = outbox_] {
      outbox->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "tend is stopping"));
    });
  }

  void OnWriteDone(bool ok) override { outbox_->WriteDone(ok); }
  void OnSendInitialMetadataDone(bool) override { outbox_->HeadersDone(); }
  void OnCancel() override { outbox_->End(grpc::Status::CANCELLED); }
  void OnDone() override {
    bridge_.Post([subscriptions = &subscriptions_, feed = feed_] {
      subscriptions->Remove(feed.get());
    });
    limit_.Give();
    delete this;
  }

 private:
  loop::CrossThread& bridge_;
  Subscriptions& subscriptions_;
  StreamLimit& limit_;
  std::shared_ptr<Outbox> outbox_;
  std::shared_ptr<Feed> feed_;
};

class Refused final : public Reactor {
 public:
  explicit Refused(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::Event>* OpenEventStream(loop::CrossThread& bridge,
                                                     Subscriptions& subscriptions,
                                                     StreamLimit& limit,
                                                     EventStreamOptions options) {
  if (!limit.Take()) return new Refused(limit.Refusal());
  auto* stream = new EventStream(bridge, subscriptions, limit);
  stream->Begin(std::move(options));
  return stream;
}

grpc::ServerWriteReactor<v1::Event>* RefuseEventStream(grpc::Status status) {
  return new Refused(std::move(status));
}

}  // namespace tend::control
