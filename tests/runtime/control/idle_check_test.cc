// The control server's idle check, in simulated time: gRPC's threads run while a client holds
// a connection, and stop within one check once the last has gone.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "runtime/control/server.h"
#include "tend/v1/control.grpc.pb.h"
#include "tests/testing/simulated_time.h"

namespace tend::control {
namespace {

using namespace std::chrono_literals;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

int Threads() {
  int count = 0;
  DIR* tasks = opendir("/proc/self/task");
  while (dirent* entry = readdir(tasks)) count += entry->d_name[0] != '.';
  closedir(tasks);
  return count;
}

class IdleCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create(time_));
    // A short folder of its own: a Unix socket's path must fit in 108 bytes.
    char folder[] = "/tmp/tend-idle-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    folder_ = folder;
    path_ = folder_ + "/control.sock";
    Listeners listeners;
    listeners.unix_path = path_;
    auto server = Server::Start(*loop_, listeners, &control_, &control_, &control_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    unlink(path_.c_str());
    rmdir(folder_.c_str());
  }

  // Runs the loop (its I/O, and timers due in simulated time, moved by `step` each turn)
  // until `done`, for at most 10 s of real time: gRPC's threads answer meanwhile.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds step = 0ms) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      time_.Advance(step);
      testing::SimulatedTime::RunDue(*loop_);
      usleep(1000);
    }
    return true;
  }

  testing::SimulatedTime time_;
  std::unique_ptr<loop::EventLoop> loop_;
  v1::Control::Service control_;  // every call UNIMPLEMENTED: the check needs none
  std::string folder_, path_;
  std::unique_ptr<Server> server_;
};

TEST_F(IdleCheckTest, AHeldStreamKeepsGrpcPastACheckAndItStopsOnceTheLastClientHasGone) {
  const int alone = Threads();
  std::atomic<int> step{0};  // the client's progress, and the test's go-ahead
  std::atomic<bool> answered_after_check{false};
  std::thread client([&] {
    auto stub = ServerReflection::NewStub(
        grpc::CreateChannel("unix:" + path_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 20s);  // a failing test ends too
    auto stream = stub->ServerReflectionInfo(&context);
    ServerReflectionRequest request;
    request.set_list_services("");
    ServerReflectionResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) return;
    step = 1;  // holding a stream
    while (step != 2) usleep(1000);
    answered_after_check = stream->Write(request) && stream->Read(&response);
    stream->WritesDone();
    static_cast<void>(stream->Finish());
    step = 3;  // stream and channel gone with this scope
  });
  absl::Cleanup join = [&] {
    step = 2;
    if (client.joinable()) client.join();
  };
  ASSERT_TRUE(RunUntil([&] { return step == 1; })) << "the client never got an answer";
  EXPECT_GT(Threads(), alone);

  time_.RunFor(*loop_, GrpcLimits::kIdleCheck + 1s);
  step = 2;
  ASSERT_TRUE(RunUntil([&] { return step == 3; }));
  std::move(join).Invoke();
  EXPECT_TRUE(answered_after_check) << "the check shut gRPC down under a held stream";

  // gRPC closes the connection when its client has gone; the next check then finds none.
  EXPECT_TRUE(RunUntil([&] { return Threads() == alone; }, 1000ms))
      << Threads() << " threads; " << alone << " without gRPC";
}

}  // namespace
}  // namespace tend::control
