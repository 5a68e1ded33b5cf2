#pragma once

#include <functional>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "runtime/control/feed_stream.h"
#include "runtime/control/stream_limit.h"
#include "runtime/loop/cross_thread.h"
#include "runtime/supervise/supervisor.h"
#include "tend/v1/control.pb.h"

namespace tend::control {

v1::Event ToProto(const supervise::Event& event);

// The event listeners that streams registered with the supervisor. Loop's thread only. A
// listener stays registered, and alive, until its stream has ended and the loop removed it;
// whatever is left when the registry goes (tend stopping) is removed then.
class Subscriptions {
 public:
  explicit Subscriptions(supervise::Supervisor& supervisor) : supervisor_(supervisor) {}
  ~Subscriptions();
  void Add(std::shared_ptr<supervise::EventListener> listener);
  void Remove(supervise::EventListener* listener);

 private:
  supervise::Supervisor& supervisor_;
  std::map<supervise::EventListener*, std::shared_ptr<supervise::EventListener>> listeners_;
};

// What a stream does with each event, decided on the loop's thread.
enum class Pick { kSkip, kSend, kSendLast };
using EventFilter = std::function<Pick(const v1::Event&)>;

struct EventStreamOptions {
  // Runs on the loop's thread once the stream listens (it may start a reload); an error it
  // returns ends the stream with that status.
  std::function<absl::Status()> begin;
  EventFilter filter;
  // Send the response headers once subscribed, so the client knows no event is missed.
  bool headers_when_subscribed = false;
};

// Events of the supervisor streamed to one client: fed on the loop's thread as they happen,
// written by gRPC as the client takes them, with no thread held in between. At most
// kMaxQueuedEvents events (and kMaxQueuedEventBytes) wait for a slow client; past that its
// stream ends with RESOURCE_EXHAUSTED instead of growing tend's memory.
constexpr size_t kMaxQueuedEvents = 1024;
constexpr size_t kMaxQueuedEventBytes = 1 << 20;
grpc::ServerWriteReactor<v1::Event>* OpenEventStream(loop::CrossThread& bridge,
                                                     Subscriptions& subscriptions,
                                                     StreamLimit& limit,
                                                     EventStreamOptions options);

// A stream refused at once with `status`.
grpc::ServerWriteReactor<v1::Event>* RefuseEventStream(grpc::Status status);

}  // namespace tend::control
