#pragma once

#include <chrono>
#include <functional>

#include "grpcpp/grpcpp.h"
#include "runtime/loop/cross_thread.h"

namespace tend::control {

// Answers a unary call on the event loop's thread, holding no gRPC thread while it waits.
// `on_loop` runs on the loop and gives the answer; if the loop has not come to it within
// `deadline` (a stuck or stopped loop), `on_timeout` gives it instead. Whichever comes first
// finishes the call and the other never runs, so each may fill in the response. A call the
// client cancels first gets CANCELLED and neither runs.
grpc::ServerUnaryReactor* AnswerOnLoop(loop::CrossThread& bridge,
                                       std::chrono::milliseconds deadline,
                                       std::function<grpc::Status()> on_loop,
                                       std::function<grpc::Status()> on_timeout);

// Finishes a call at once with `status` (a refusal, or an answer that needs no loop).
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* context, grpc::Status status);

}  // namespace tend::control
