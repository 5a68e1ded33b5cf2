#include "runtime/control/event_stream.h"

namespace tend::control {

v1::Event ToProto(const supervise::Event& event) {
  using Kind = supervise::Event::Kind;
  v1::Event proto;
  switch (event.kind) {
    case Kind::kWorkerStarted:
      proto.set_kind(v1::Event::WORKER_STARTED);
      break;
    case Kind::kWorkerReady:
      proto.set_kind(v1::Event::WORKER_READY);
      break;
    case Kind::kWorkerExited:
      proto.set_kind(v1::Event::WORKER_EXITED);
      break;
    case Kind::kRestartScheduled:
      proto.set_kind(v1::Event::RESTART_SCHEDULED);
      break;
    case Kind::kReloadStarted:
      proto.set_kind(v1::Event::RELOAD_STARTED);
      break;
    case Kind::kReloadProgress:
      proto.set_kind(v1::Event::RELOAD_PROGRESS);
      break;
    case Kind::kReloadFinished:
      proto.set_kind(v1::Event::RELOAD_FINISHED);
      break;
    case Kind::kScaled:
      proto.set_kind(v1::Event::SCALED);
      break;
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

// The listener the supervisor tells, on the loop's thread.
class Feed final : public supervise::EventListener {
 public:
  Feed(std::shared_ptr<Outbox<v1::Event>> outbox, EventFilter filter)
      : outbox_(std::move(outbox)), filter_(std::move(filter)) {}
  void OnEvent(const supervise::Event& event) override {
    v1::Event proto = ToProto(event);
    Pick pick = filter_ ? filter_(proto) : Pick::kSend;
    if (pick != Pick::kSkip) outbox_->Send(std::move(proto), pick == Pick::kSendLast);
  }

 private:
  std::shared_ptr<Outbox<v1::Event>> outbox_;
  EventFilter filter_;
};

}  // namespace

grpc::ServerWriteReactor<v1::Event>* OpenEventStream(loop::CrossThread& bridge,
                                                     Subscriptions& subscriptions,
                                                     StreamLimit& limit,
                                                     EventStreamOptions options) {
  // The feed is made on the loop, and removed there once the stream has ended.
  auto feed = std::make_shared<std::shared_ptr<Feed>>();
  Feeding<v1::Event> feeding;
  feeding.subscribe =
      [feed, &subscriptions, filter = std::move(options.filter),
       begin = std::move(options.begin)](std::shared_ptr<Outbox<v1::Event>> outbox) mutable {
        *feed = std::make_shared<Feed>(std::move(outbox), std::move(filter));
        subscriptions.Add(*feed);
        absl::Status begun = begin ? begin() : absl::OkStatus();
        if (!begun.ok()) subscriptions.Remove(feed->get());
        return begun;
      };
  feeding.unsubscribe = [feed, &subscriptions] {
    if (*feed) subscriptions.Remove(feed->get());
  };
  feeding.headers_when_subscribed = options.headers_when_subscribed;
  return OpenFeedStream(bridge, limit, {kMaxQueuedEvents, kMaxQueuedEventBytes}, Overflow::kEnd,
                        "events", std::move(feeding));
}

grpc::ServerWriteReactor<v1::Event>* RefuseEventStream(grpc::Status status) {
  return new RefusedStream<v1::Event>(std::move(status));
}

}  // namespace tend::control
