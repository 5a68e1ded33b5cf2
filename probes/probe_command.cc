#include "probes/probe_command.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/grpcpp.h"
#include "runtime/config/command_line.h"
#include "tend/v1/control.grpc.pb.h"

namespace tend::probes {

int RunProbe(const std::vector<std::string>& args) {
  std::string socket = config::kDefaultControl;
  std::string which;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--control" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (absl::ConsumePrefix(&arg, "--control=")) {
      socket = std::string(arg);
    } else if (which.empty() && (arg == "live" || arg == "ready")) {
      which = args[i];
    } else {
      std::fprintf(stderr, "tend probe: unexpected '%s'\nUsage: tend probe "
                   "[--control unix:PATH] live|ready\n", args[i].c_str());
      return 2;
    }
  }
  if (which.empty()) {
    std::fputs("Usage: tend probe [--control unix:PATH] live|ready\n", stderr);
    return 2;
  }
  absl::string_view path = socket;
  absl::ConsumePrefix(&path, "unix:");
  auto stub = v1::Control::NewStub(grpc::CreateChannel(absl::StrCat("unix:", path),
                                                       grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  // Within the default probe timeout of Kubernetes (1 s).
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(950));
  v1::ProbeRequest request;
  request.set_kind(which == "live" ? v1::ProbeRequest::LIVE : v1::ProbeRequest::READY);
  v1::ProbeResponse response;
  grpc::Status status = stub->Probe(&context, request, &response);
  if (!status.ok()) {
    std::printf("not %s: cannot ask tend at unix:%s: %s\n", which.c_str(),
                std::string(path).c_str(), status.error_message().c_str());
    return 1;
  }
  if (response.ok()) {
    std::printf("%s\n", which.c_str());
    return 0;
  }
  std::printf("not %s: %s\n", which.c_str(), response.reason().c_str());
  return 1;
}

}  // namespace tend::probes
