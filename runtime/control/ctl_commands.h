#pragma once

#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::control {

// The pieces of `tend ctl` shared by its commands.
constexpr int kCtlFailed = 1;
constexpr int kCtlUsage = 2;
// Prints the problem and the usage to stderr; kCtlUsage.
int CtlUsage(const std::string& problem);
// Prints the call's error to stderr; kCtlFailed.
int CtlFailed(const grpc::Status& status);
// One line about an event: "WORKER_EXITED app[1] pid 42: code 1".
std::string DescribeEvent(const v1::Event& event);

// `tend ctl logs [APP[:N]] [--lines N] [--follow]`: `args` after "logs".
int RunLogs(v1::Control::Stub& stub, const std::vector<std::string>& args, bool json);
// `tend ctl top [--once]`.
int RunTop(v1::Control::Stub& stub, const std::vector<std::string>& args);

}  // namespace tend::control
