#include "runtime/http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/config/values.h"

namespace tend::http {
namespace {

// Bounds on what one client can make the server hold.
constexpr unsigned kMaxConnections = 128;
constexpr unsigned kMaxConnectionsPerAddress = 32;
constexpr unsigned kIdleTimeoutSeconds = 10;
constexpr size_t kMemoryPerConnection = 32 * 1024;  // request line and headers must fit

// A server's "ADDR:PORT" (IPv6 "[ADDR]:PORT", as the command line writes them) as a socket
// address; no ADDR: every IPv4 address.
absl::StatusOr<sockaddr_storage> SocketAddress(const std::string& text) {
  std::string host;
  uint32_t port;
  if (!config::ParseHostPort(text, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not [ADDR:]PORT"));
  }
  sockaddr_storage storage{};
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IPv6 address"));
    }
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!host.empty() && inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IPv4 address"));
    }
  }
  return storage;
}

MHD_Result CollectQuery(void* query, MHD_ValueKind, const char* key, const char* value) {
  (*static_cast<std::map<std::string, std::string>*>(query))[key] = value ? value : "";
  return MHD_YES;
}

MHD_Result Send(MHD_Connection* connection, const Response& response, bool head) {
  MHD_Response* reply = MHD_create_response_from_buffer(
      head ? 0 : response.body.size(), const_cast<char*>(response.body.data()),
      MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  MHD_Result queued = MHD_queue_response(connection, response.status, reply);
  MHD_destroy_response(reply);
  return queued;
}

MHD_Result OnRequest(void* server_handler, MHD_Connection* connection, const char* url,
                     const char* method, const char*, const char*, size_t* upload_size, void**) {
  auto& handler = *static_cast<Server::Handler*>(server_handler);
  bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
    *upload_size = 0;  // the body is not read; the connection closes after the answer
    return Send(connection, {405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, false);
  }
  Request request{method, url, {}};
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, CollectQuery, &request.query);
  return Send(connection, handler(request), head);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const std::string& address,
                                                      Handler handler) {
  absl::StatusOr<sockaddr_storage> bind_to = SocketAddress(address);
  if (!bind_to.ok()) return bind_to.status();
  std::unique_ptr<Server> server(new Server(std::move(handler)));
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (bind_to->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &OnRequest, &server->handler_,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&*bind_to),
      MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxConnectionsPerAddress,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kMemoryPerConnection,
      MHD_OPTION_END);
  if (!server->daemon_) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ",
                                               errno ? strerror(errno) : "libmicrohttpd failed"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info ? info->port : 0;
  return server;
}

Server::~Server() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

}  // namespace tend::http
