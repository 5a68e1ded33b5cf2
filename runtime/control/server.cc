#include "runtime/control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"

namespace tend::control {
namespace {

constexpr int kMaxMessageBytes = 64 * 1024;  // requests are small; untrusted ones stay so
constexpr int kMaxThreads = 16;              // a streaming call holds one while it lasts

// A socket path that another process still serves is refused; one left by a dead process
// is removed.
absl::Status ClaimSocketPath(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": path too long for a Unix socket"));
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
    }
  }
  struct stat existing;
  if (lstat(path.c_str(), &existing) != 0) return absl::OkStatus();
  if (!S_ISSOCK(existing.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
  }
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.c_str(), path.size());
  bool served = connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(probe);
  if (served) return absl::AlreadyExistsError(absl::StrCat(path, " is in use by another process"));
  if (unlink(path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot remove stale ", path, ": ",
                                                    strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Listeners& listeners,
                                                      grpc::Service* control) {
  auto server = std::unique_ptr<Server>(new Server());
  if (!listeners.unix_path.empty()) {
    if (absl::Status claimed = ClaimSocketPath(listeners.unix_path); !claimed.ok()) return claimed;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!listeners.unix_path.empty()) {
    builder.AddListeningPort("unix:" + listeners.unix_path, grpc::InsecureServerCredentials());
  }
  if (!listeners.tcp_address.empty()) {
    builder.AddListeningPort(listeners.tcp_address, grpc::InsecureServerCredentials(),
                             &server->tcp_port_);
  }
  builder.RegisterService(control);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  grpc::ResourceQuota quota("tend-control");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  // The socket file is created 0600: only tend's user (and root) may control it.
  mode_t previous = umask(0077);
  server->server_ = builder.BuildAndStart();
  umask(previous);
  if (!server->server_) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ",
        listeners.unix_path.empty() ? listeners.tcp_address
                                    : absl::StrCat("unix:", listeners.unix_path,
                                                   listeners.tcp_address.empty() ? "" : " or ",
                                                   listeners.tcp_address)));
  }
  server->unix_path_ = listeners.unix_path;
  server->SetServing(false);
  return server;
}

void Server::SetServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

Server::~Server() {
  if (!server_) return;  // never started
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

}  // namespace tend::control
