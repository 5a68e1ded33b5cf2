#include "runtime/control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server_posix.h"

namespace tend::control {
namespace {

constexpr int kMaxMessageBytes = 64 * 1024;  // requests are small; untrusted ones stay so
constexpr int kMaxThreads = 16;              // a streaming call holds one while it lasts
// How long accepting pauses when descriptors ran out.
constexpr std::chrono::milliseconds kAcceptPause{100};

// A socket path that another process still serves is refused; one left by a dead process
// is removed.
absl::Status ClaimSocketPath(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": path too long for a Unix socket"));
  }
  std::string dir = path.substr(0, std::max<size_t>(1, path.rfind('/')));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
  }
  struct stat folder;
  if (stat(dir.c_str(), &folder) != 0 || !S_ISDIR(folder.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": not a directory"));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create a socket in ", dir, ": ",
                                                    strerror(errno)));
  }
  struct stat existing;
  if (lstat(path.c_str(), &existing) != 0) return absl::OkStatus();
  if (!S_ISSOCK(existing.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot check ", path, ": socket: ",
                                                     strerror(errno)));
  }
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.c_str(), path.size());
  // Only a refused connection proves the socket stale. Anything else (accepted, a full
  // backlog's EAGAIN, EACCES) may be a live tend: never unlink its socket.
  bool accepted = connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (accepted || errno != ECONNREFUSED) {
    return absl::AlreadyExistsError(absl::StrCat(
        path, " is in use by another process (", accepted ? "it accepts" : strerror(errno), ")"));
  }
  if (unlink(path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot remove stale ", path, ": ",
                                                    strerror(errno)));
  }
  return absl::OkStatus();
}

// gRPC's own log lines are multi-line dumps; tend reports what failed itself.
void DropGrpcLog(gpr_log_func_args*) {}

// A listening Unix socket at `path`, created 0600: only tend's user (and root) may use it.
absl::StatusOr<UniqueFd> ListenUnix(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.c_str(), path.size());
  mode_t previous = umask(0077);
  bool bound = bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  int error = errno;
  umask(previous);
  if (bound && listen(fd.get(), 64) != 0) {
    error = errno;
    bound = false;
  }
  if (!bound) {
    return absl::UnavailableError(absl::StrCat("cannot listen on unix:", path, ": ",
                                               strerror(error)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(loop::EventLoop& loop,
                                                      const Listeners& listeners,
                                                      grpc::Service* control) {
  std::unique_ptr<Server> server(new Server(loop, control));
  if (!listeners.unix_path.empty()) {
    if (absl::Status claimed = ClaimSocketPath(listeners.unix_path); !claimed.ok()) return claimed;
    absl::StatusOr<UniqueFd> fd = ListenUnix(listeners.unix_path);
    if (!fd.ok()) return fd.status();
    server->unix_fd_ = std::move(*fd);
    server->unix_path_ = listeners.unix_path;
    if (absl::Status watched = loop.Watch(server->unix_fd_.get(),
                                          [raw = server.get()] { raw->OnUnixConnection(); });
        !watched.ok()) {
      return watched;
    }
  }
  // A TCP port is asked for explicitly: gRPC starts at once to listen on it.
  if (!listeners.tcp_address.empty()) {
    if (absl::Status started = server->StartGrpc(listeners.tcp_address); !started.ok()) {
      return started;
    }
  }
  return server;
}

absl::Status Server::StartGrpc(const std::string& tcp_address) {
  gpr_set_log_function(DropGrpcLog);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!tcp_address.empty()) {
    builder.AddListeningPort(tcp_address, grpc::InsecureServerCredentials(), &tcp_port_);
  }
  builder.RegisterService(control_);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // Control calls are rare: one completion queue and one polling thread, not one per core.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1);
  grpc::ResourceQuota quota("tend-control");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return absl::UnavailableError(absl::StrCat("cannot listen on ", tcp_address));
  std::lock_guard<std::mutex> lock(mutex_);
  server->GetHealthCheckService()->SetServingStatus(serving_);
  server_ = std::move(server);
  return absl::OkStatus();
}

// Each connection to the control socket is handed to gRPC as an established channel.
void Server::OnUnixConnection() {
  UniqueFd connection(accept4(unix_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!connection) {
    // Out of descriptors, the connection stays queued and the socket readable: stop
    // watching it for a while instead of spinning, and try again then.
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      loop_.Unwatch(unix_fd_.get());
      accept_pause_ = loop_.After(kAcceptPause, [this] {
        accept_pause_.reset();
        if (!loop_.Watch(unix_fd_.get(), [this] { OnUnixConnection(); }).ok()) {
          accept_pause_ = loop_.After(kAcceptPause, [this] { OnUnixConnection(); });
        }
      });
    }
    return;
  }
  if (!server_) {
    if (absl::Status started = StartGrpc(""); !started.ok()) return;
  }
  grpc::AddInsecureChannelFromFd(server_.get(), connection.release());  // gRPC owns it now
}

void Server::SetServing(bool serving) {
  std::lock_guard<std::mutex> lock(mutex_);
  serving_ = serving;
  if (server_) server_->GetHealthCheckService()->SetServingStatus(serving);
}

Server::~Server() {
  if (unix_fd_) {
    loop_.Unwatch(unix_fd_.get());
    unlink(unix_path_.c_str());
  }
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
}

}  // namespace tend::control
