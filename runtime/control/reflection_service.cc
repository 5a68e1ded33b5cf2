#include "runtime/control/reflection_service.h"

#include <set>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace tend::control {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

// One reflection stream: reads a request, writes its answer, reads the next. Only one
// operation is ever in flight, so it needs no lock.
class ReflectionStream final
    : public grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse> {
 public:
  ReflectionStream(const std::vector<std::string>& services, StreamLimit& limit)
      : services_(services), limit_(limit) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done (or gone)
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    Answer(request_, &response_);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client gone"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override {
    limit_.Give();
    delete this;
  }

 private:
  void Answer(const ServerReflectionRequest& request, ServerReflectionResponse* response) {
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    response->set_valid_host(request.host());
    *response->mutable_original_request() = request;
    switch (request.message_request_case()) {
      case ServerReflectionRequest::kListServices:
        for (const std::string& name : services_) {
          response->mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      case ServerReflectionRequest::kFileByFilename:
        return SendFile(pool->FindFileByName(request.file_by_filename()), response);
      case ServerReflectionRequest::kFileContainingSymbol:
        return SendFile(pool->FindFileContainingSymbol(request.file_containing_symbol()), response);
      case ServerReflectionRequest::kFileContainingExtension: {
        const auto* type =
            pool->FindMessageTypeByName(request.file_containing_extension().containing_type());
        const auto* extension =
            type ? pool->FindExtensionByNumber(
                       type, request.file_containing_extension().extension_number())
                 : nullptr;
        return SendFile(extension ? extension->file() : nullptr, response);
      }
      case ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const auto* type = pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (!type) return NotFound(response);
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* numbers = response->mutable_all_extension_numbers_response();
        numbers->set_base_type_name(type->full_name());
        for (const auto* extension : extensions) numbers->add_extension_number(extension->number());
        return;
      }
      case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        response->mutable_error_response()->set_error_code(
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
        response->mutable_error_response()->set_error_message("no request");
        return;
    }
  }

  // The file and every file it imports, each once.
  static void SendFile(const FileDescriptor* file, ServerReflectionResponse* response) {
    if (!file) return NotFound(response);
    std::set<std::string> sent;
    std::vector<const FileDescriptor*> pending = {file};
    auto* files = response->mutable_file_descriptor_response();
    while (!pending.empty()) {
      const FileDescriptor* next = pending.back();
      pending.pop_back();
      if (!sent.insert(next->name()).second) continue;
      google::protobuf::FileDescriptorProto proto;
      next->CopyTo(&proto);
      proto.SerializeToString(files->add_file_descriptor_proto());
      for (int i = 0; i < next->dependency_count(); ++i) pending.push_back(next->dependency(i));
    }
  }

  static void NotFound(ServerReflectionResponse* response) {
    response->mutable_error_response()->set_error_code(
        static_cast<int>(grpc::StatusCode::NOT_FOUND));
    response->mutable_error_response()->set_error_message("not found");
  }

  const std::vector<std::string>& services_;
  StreamLimit& limit_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
};

class Refused final
    : public grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse> {
 public:
  explicit Refused(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext*) {
  if (!limit_.Take()) return new Refused(limit_.Refusal());
  return new ReflectionStream(services_, limit_);
}

}  // namespace tend::control
