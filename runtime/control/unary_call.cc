#include "runtime/control/unary_call.h"

#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "grpcpp/alarm.h"

namespace tend::control {
namespace {

// The one answer a call gets, shared by the loop's task, the deadline and the reactor.
struct Answer {
  std::mutex mutex;
  bool given ABSL_GUARDED_BY(mutex) = false;
  grpc::ServerUnaryReactor* reactor;  // valid until given: gRPC ends it only after Finish

  // Finish is called outside the lock: gRPC may run a reaction (OnCancel) inline.
  void Give(const std::function<grpc::Status()>& answer) {
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (given) return;
      given = true;
      status = answer();
    }
    reactor->Finish(std::move(status));
  }
};

class LoopReactor final : public grpc::ServerUnaryReactor {
 public:
  LoopReactor() : answer_(std::make_shared<Answer>()) { answer_->reactor = this; }

  void Begin(loop::CrossThread& bridge, std::chrono::milliseconds deadline,
             std::function<grpc::Status()> on_loop, std::function<grpc::Status()> on_timeout) {
    alarm_.Set(std::chrono::system_clock::now() + deadline,
               [answer = answer_, on_timeout = std::move(on_timeout)](bool fired) {
                 if (fired) answer->Give(on_timeout);
               });
    bridge.Post([answer = answer_, on_loop = std::move(on_loop)] { answer->Give(on_loop); },
                [answer = answer_] {
                  answer->Give([] {
                    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "tend is stopping");
                  });
                });
  }

  void OnCancel() override {
    std::shared_ptr<Answer> answer = answer_;  // Finish may end this reactor at once
    answer->Give([] { return grpc::Status::CANCELLED; });
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<Answer> answer_;
  grpc::Alarm alarm_;  // cancelled when the reactor ends
};

}  // namespace

grpc::ServerUnaryReactor* AnswerOnLoop(loop::CrossThread& bridge,
                                       std::chrono::milliseconds deadline,
                                       std::function<grpc::Status()> on_loop,
                                       std::function<grpc::Status()> on_timeout) {
  auto* reactor = new LoopReactor();
  reactor->Begin(bridge, deadline, std::move(on_loop), std::move(on_timeout));
  return reactor;
}

grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

}  // namespace tend::control
