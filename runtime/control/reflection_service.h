#pragma once

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "runtime/control/stream_limit.h"

namespace tend::control {

// gRPC server reflection (grpc.reflection.v1alpha, what grpcurl and grpc_cli ask), served
// from the descriptors compiled into tend, on gRPC's callback API: an idle reflection stream
// holds no thread. Streams are bounded by `limit`.
class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: the full names this server serves, as list_services answers them.
  ReflectionService(std::vector<std::string> services, StreamLimit& limit)
      : services_(std::move(services)), limit_(limit) {}

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

 private:
  const std::vector<std::string> services_;
  StreamLimit& limit_;
};

}  // namespace tend::control
