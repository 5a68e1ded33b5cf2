#include "runtime/control/unary_call.h"

#include <atomic>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {
namespace {

using namespace std::chrono_literals;

// ListWorkers answered on the loop ("loop"), or by the deadline ("late", UNAVAILABLE).
class Service final : public v1::Control::CallbackService {
 public:
  explicit Service(loop::CrossThread& bridge) : bridge_(bridge) {}
  std::atomic<int> answered_on_loop{0};
  std::atomic<int> calls_begun{0};

  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext*, const v1::ListWorkersRequest*,
                                        v1::ListWorkersResponse* response) override {
    grpc::ServerUnaryReactor* reactor = AnswerOnLoop(
        bridge_, 300ms,
        [this, response] {
          ++answered_on_loop;
          response->add_apps()->set_name("loop");
          return grpc::Status::OK;
        },
        [response] {
          response->add_apps()->set_name("late");
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "late");
        });
    ++calls_begun;
    return reactor;
  }

 private:
  loop::CrossThread& bridge_;
};

class UnaryCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create());
    bridge_ = std::move(*loop::CrossThread::Create(*loop_));
    service_ = std::make_unique<Service>(*bridge_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    stub_ = v1::Control::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }

  grpc::Status List(std::chrono::milliseconds timeout, v1::ListWorkersResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return stub_->ListWorkers(&context, v1::ListWorkersRequest(), response);
  }

  // Runs the loop until `done`, on this thread.
  void RunLoopUntil(const std::function<bool()>& done) {
    std::unique_ptr<loop::Timer> check;
    std::function<void()> poll = [&] {
      if (done()) {
        loop_->Stop();
      } else {
        check = loop_->After(10ms, poll);
      }
    };
    check = loop_->After(0ms, poll);
    ASSERT_TRUE(loop_->Run().ok());
  }

  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<loop::CrossThread> bridge_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

TEST_F(UnaryCallTest, TheLoopAnswers) {
  v1::ListWorkersResponse response;
  std::atomic<bool> done{false};
  grpc::Status status;
  std::thread client([&] {
    status = List(5s, &response);
    done = true;
  });
  RunLoopUntil([&] { return done.load(); });
  client.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.apps(0).name(), "loop");
}

// The loop is stuck: the deadline answers, and the task that runs later finds the call
// over and touches nothing of it (the response is freed by then: ASan would see it).
TEST_F(UnaryCallTest, AStuckLoopGetsUnavailableAndTheLateTaskDoesNothing) {
  v1::ListWorkersResponse response;
  auto started = std::chrono::steady_clock::now();
  grpc::Status status = List(5s, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(response.apps_size(), 0);  // an error carries no response
  std::unique_ptr<loop::Timer> stop = loop_->After(100ms, [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());  // now the queued task runs
  EXPECT_EQ(service_->answered_on_loop, 0);
}

// A client that gives up first: its call ends, and the task that runs later does nothing.
TEST_F(UnaryCallTest, ACancelledCallIsNotAnsweredLater) {
  v1::ListWorkersResponse response;
  EXPECT_EQ(List(50ms, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(1s);  // for the server to see the cancellation (RST_STREAM)
  std::unique_ptr<loop::Timer> stop = loop_->After(100ms, [&] { loop_->Stop(); });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(service_->answered_on_loop, 0);
}

// tend stopping: a call waiting on the loop when the bridge closes is answered at once, and
// so is one that comes later.
TEST_F(UnaryCallTest, ClosingTheBridgeAnswersWaitingCallsAtOnce) {
  v1::ListWorkersResponse response;
  grpc::Status waiting;
  std::thread client([&] { waiting = List(5s, &response); });
  while (service_->calls_begun == 0) std::this_thread::sleep_for(1ms);
  bridge_->Close();
  client.join();
  EXPECT_EQ(waiting.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(waiting.error_message(), "tend is stopping");  // not the deadline's "late"
  EXPECT_EQ(List(5s, &response).error_message(), "tend is stopping");
}

}  // namespace
}  // namespace tend::control
