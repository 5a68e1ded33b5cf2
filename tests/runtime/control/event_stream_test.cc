#include "runtime/control/event_stream.h"

#include <atomic>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {
namespace {

using namespace std::chrono_literals;

// StreamEvents over the real event stream, fed by a supervisor with no app.
class Service final : public v1::Control::CallbackService {
 public:
  Service(loop::CrossThread& bridge, supervise::Supervisor& supervisor)
      : bridge_(bridge), subscriptions_(supervisor) {}
  grpc::ServerWriteReactor<v1::Event>* StreamEvents(grpc::CallbackServerContext*,
                                                    const v1::StreamEventsRequest*) override {
    EventStreamOptions options;
    options.headers_when_subscribed = true;
    return OpenEventStream(bridge_, subscriptions_, limit_, std::move(options));
  }

 private:
  loop::CrossThread& bridge_;
  StreamLimit limit_{4, "event streams"};
  Subscriptions subscriptions_;
};

struct Flooded {
  grpc::Status status;
  size_t received = 0;
};

// Once a client has subscribed, `count` events of app `app` in one turn of the loop, which the
// client reads only after. What the client got, and how its stream ended.
Flooded Flood(size_t count, const std::string& app) {
  auto loop = std::move(*loop::EventLoop::Create());
  auto bridge = std::move(*loop::CrossThread::Create(*loop));
  v1::Config config;
  supervise::Supervisor supervisor(config, *loop, {});
  Service service(*bridge, supervisor);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EXPECT_TRUE(server);
  if (!server) return {};

  std::atomic<bool> subscribed{false}, sent{false};
  Flooded flooded;
  std::thread client([&] {
    // HTTP/2's window kept at its first 64 KiB: what gRPC can send ahead stays small.
    grpc::ChannelArguments small_window;
    small_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    auto stub = v1::Control::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), small_window));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 20s);
    auto reader = stub->StreamEvents(&context, v1::StreamEventsRequest());
    reader->WaitForInitialMetadata();
    subscribed = true;
    // Nothing read until all is sent: the events wait in tend, not in this client.
    while (!sent) std::this_thread::sleep_for(1ms);
    v1::Event event;
    while (reader->Read(&event)) ++flooded.received;
    flooded.status = reader->Finish();
  });
  auto poll = loop->Every(5ms, [&] {
    if (!subscribed) return;
    for (size_t i = 0; i < count; ++i) {
      supervisor.OnEvent({supervise::Event::Kind::kWorkerStarted, app, 0, 1});
    }
    sent = true;
    loop->Stop();
  });
  auto give_up = loop->After(20s, [&] {
    sent = true;
    loop->Stop();
  });
  EXPECT_TRUE(loop->Run().ok());
  client.join();
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  return flooded;
}

// A client that does not keep up: events past kMaxQueuedEvents end its stream with
// RESOURCE_EXHAUSTED, instead of queueing in tend without bound.
TEST(EventStreamTest, AClientThatDoesNotKeepUpLosesItsStreamNotTendsMemory) {
  Flooded flooded = Flood(3 * kMaxQueuedEvents, "app");
  EXPECT_EQ(flooded.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << flooded.status.error_message();
  // The bound's worth, and what gRPC had sent meanwhile (its 64 KiB window of small events).
  EXPECT_LT(flooded.received, 2 * kMaxQueuedEvents);
}

// Fewer events than the count bound, but over kMaxQueuedEventBytes: the bytes end it.
TEST(EventStreamTest, LargeEventsAreBoundedByBytes) {
  const std::string app(16384, 'a');  // 1,000 of them: 16 times the bound in bytes
  Flooded flooded = Flood(1000, app);
  EXPECT_EQ(flooded.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << flooded.status.error_message();
  // The bound's worth, and what gRPC had sent meanwhile.
  EXPECT_LT(flooded.received, 2 * kMaxQueuedEventBytes / app.size());
}

}  // namespace
}  // namespace tend::control
