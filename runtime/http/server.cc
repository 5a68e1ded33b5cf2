#include "runtime/http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/config/values.h"

namespace tend::http {
namespace {

constexpr int kBacklog = 128;
constexpr int kAcceptsPerWakeup = 64;
constexpr std::chrono::milliseconds kAcceptPause{100};

// A server's "ADDR:PORT" (IPv6 "[ADDR]:PORT", as the command line writes them) as a socket
// address; no ADDR: every IPv4 address.
absl::StatusOr<sockaddr_storage> SocketAddress(const std::string& text, socklen_t* length) {
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
    *length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!host.empty() && inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IPv4 address"));
    }
    *length = sizeof *in;
  }
  return storage;
}

std::string AddressOf(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  }
  return text;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string Serialize(const Response& response, bool head, bool keep_alive) {
  return absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                      "\r\nContent-Type: ", response.content_type,
                      "\r\nContent-Length: ", response.body.size(),
                      keep_alive ? "" : "\r\nConnection: close", "\r\n\r\n",
                      head ? "" : response.body);
}

}  // namespace

struct Server::Connection {
  Server* server;
  UniqueFd fd;
  std::string address;
  std::list<std::unique_ptr<Connection>>::iterator position;
  http_parser parser;
  std::string unparsed;     // read, not parsed yet (the parser paused on full output)
  std::string url;
  size_t head_bytes = 0;
  size_t body_bytes = 0;
  bool in_request = false;  // a request has begun and is not complete
  std::string output;
  int refusal = 0;          // a status to answer before closing (431, 414, 413)
  bool on_reserve = false;  // accepted on the reserve descriptor
  bool closing = false;     // close once the output is written
  std::unique_ptr<loop::Timer> timer;

  bool Busy() const { return !output.empty(); }
};

// http_parser's callbacks, with the connection in parser->data.
struct Callbacks {
  static Server::Connection& Of(http_parser* parser) {
    return *static_cast<Server::Connection*>(parser->data);
  }
  // Adds `length` to a bounded count of the request's bytes; past the bound the parser stops
  // and the request is refused with `status`.
  static int Add(http_parser* parser, size_t Server::Connection::*count, size_t length,
                 int status) {
    Server::Connection& c = Of(parser);
    c.*count += length;
    if (c.*count <= c.server->limits_.max_head_bytes) return 0;
    c.refusal = status;
    return 1;
  }
  static int Count(http_parser* parser, size_t length) {
    return Add(parser, &Server::Connection::head_bytes, length, 431);
  }
  static int OnMessageBegin(http_parser* parser) {
    Server::Connection& c = Of(parser);
    c.url.clear();
    c.head_bytes = c.body_bytes = 0;
    c.in_request = true;
    // The whole head must come within the deadline, from its first byte.
    c.server->Arm(c, c.server->limits_.head_deadline);
    return 0;
  }
  static int OnUrl(http_parser* parser, const char* at, size_t length) {
    if (Count(parser, length) != 0) return 1;
    Of(parser).url.append(at, length);
    return 0;
  }
  static int OnHeader(http_parser* parser, const char*, size_t length) {
    return Count(parser, length);
  }
  static int OnBody(http_parser* parser, const char*, size_t length) {
    return Add(parser, &Server::Connection::body_bytes, length, 413);
  }
  static int OnMessageComplete(http_parser* parser) {
    Server::Connection& c = Of(parser);
    Server& server = *c.server;
    c.in_request = false;
    bool keep_alive = http_should_keep_alive(parser) != 0;
    bool head = parser->method == HTTP_HEAD;
    Request request{http_method_str(static_cast<http_method>(parser->method)), "", {}};
    http_parser_url url;
    http_parser_url_init(&url);
    Response response;
    if (parser->http_major != 1) {
      response = {505, "text/plain; charset=utf-8", "HTTP/1.0 and HTTP/1.1 only\n"};
      keep_alive = false;
    } else if (http_parser_parse_url(c.url.data(), c.url.size(), 0, &url) != 0) {
      response = {400, "text/plain; charset=utf-8", "bad request target\n"};
      keep_alive = false;
    } else {
      if (url.field_set & (1 << UF_PATH)) {
        request.path = c.url.substr(url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
      }
      size_t arguments = 0;
      if (url.field_set & (1 << UF_QUERY)) {
        absl::string_view query(c.url.data() + url.field_data[UF_QUERY].off,
                                url.field_data[UF_QUERY].len);
        for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
          if (++arguments > server.limits_.max_query_arguments) break;
          std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
          request.query[kv.first] = kv.second;
        }
      }
      if (arguments > server.limits_.max_query_arguments) {
        response = {414, "text/plain; charset=utf-8",
                    absl::StrCat("more than ", server.limits_.max_query_arguments,
                                 " query arguments\n")};
        keep_alive = false;
      } else if (parser->method != HTTP_GET && !head) {
        response = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
      } else {
        response = server.handler_(request);
      }
    }
    c.output += Serialize(response, head, keep_alive);
    if (!keep_alive) {
      c.closing = true;
      return 1;  // nothing after this request is read
    }
    // Answers pile up for a client that pipelines without reading: stop parsing until they
    // drain.
    if (c.output.size() >= server.limits_.max_pending_output) http_parser_pause(parser, 1);
    return 0;
  }
  static const http_parser_settings& Settings() {
    static const http_parser_settings settings = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = OnMessageBegin;
      s.on_url = OnUrl;
      s.on_header_field = OnHeader;
      s.on_header_value = OnHeader;
      s.on_body = OnBody;
      s.on_message_complete = OnMessageComplete;
      return s;
    }();
    return settings;
  }
};

Server::Server(loop::EventLoop& loop, Handler handler, Limits limits)
    : loop_(loop), handler_(std::move(handler)), limits_(limits) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(loop::EventLoop& loop,
                                                      const std::string& address,
                                                      Handler handler, Limits limits) {
  socklen_t length = 0;
  absl::StatusOr<sockaddr_storage> bind_to = SocketAddress(address, &length);
  if (!bind_to.ok()) return bind_to.status();
  std::unique_ptr<Server> server(new Server(loop, std::move(handler), limits));
  server->listener_.reset(
      socket(bind_to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!server->listener_) {
    return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  }
  int on = 1;
  int fd = server->listener_.get();
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&*bind_to), length) != 0 || listen(fd, kBacklog) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", strerror(errno)));
  }
  server->port_ = ntohs(bound.ss_family == AF_INET6
                            ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                            : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  server->reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Server* raw = server.get();
  if (absl::Status watched = loop.Watch(fd, [raw] { raw->OnAcceptable(); }); !watched.ok()) {
    return watched;
  }
  return server;
}

Server::~Server() {
  while (!connections_.empty()) Close(*connections_.front());
  if (listener_) loop_.Unwatch(listener_.get());
}

void Server::OnAcceptable() {
  for (int accepted = 0; accepted < kAcceptsPerWakeup; ++accepted) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    UniqueFd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                        SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd) {
      Admit(std::move(fd), AddressOf(peer));
      continue;
    }
    int error = errno;
    if (error == EINTR || error == ECONNABORTED) continue;
    // Out of descriptors: free one held by an idle client and try again; else answer one
    // client on the reserve descriptor, and stop watching the socket for a moment instead
    // of spinning on it.
    bool exhausted = error == EMFILE || error == ENFILE;
    if (exhausted && Evict(nullptr)) continue;
    if (exhausted) AcceptOnReserve();
    if (exhausted || error == ENOBUFS || error == ENOMEM) PauseAccepting();
    return;  // EAGAIN: nothing more waits
  }
}

void Server::AcceptOnReserve() {
  if (!reserve_) return;  // in use already
  reserve_.reset();
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  UniqueFd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                      SOCK_NONBLOCK | SOCK_CLOEXEC));
  Connection* admitted = fd ? Admit(std::move(fd), AddressOf(peer)) : nullptr;
  if (admitted) {
    admitted->on_reserve = true;
  } else {
    reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
}

void Server::PauseAccepting() {
  loop_.Unwatch(listener_.get());
  accept_pause_ = loop_.After(kAcceptPause, [this] {
    if (!loop_.Watch(listener_.get(), [this] { OnAcceptable(); }).ok()) PauseAccepting();
  });
}

bool Server::Evict(const std::string* address) {
  for (auto& connection : connections_) {
    if (connection->Busy()) continue;
    if (address && connection->address != *address) continue;
    Close(*connection);
    return true;
  }
  return false;
}

Server::Connection* Server::Admit(UniqueFd fd, std::string address) {
  auto held = per_address_.find(address);  // find: a refused address adds no entry
  if (held != per_address_.end() && held->second >= limits_.max_connections_per_address &&
      !Evict(&address)) {
    return nullptr;
  }
  if (connections_.size() >= limits_.max_connections && !Evict(nullptr)) return nullptr;
  auto connection = std::make_unique<Connection>();
  Connection& c = *connection;
  c.server = this;
  c.fd = std::move(fd);
  c.address = std::move(address);
  http_parser_init(&c.parser, HTTP_REQUEST);
  c.parser.data = &c;
  int raw = c.fd.get();
  if (!loop_.Watch(raw, [this, &c] { OnReadable(c); }).ok()) return nullptr;  // closes fd
  ++per_address_[c.address];
  connections_.push_back(std::move(connection));
  c.position = std::prev(connections_.end());
  Arm(c, limits_.idle_timeout);
  return &c;
}

void Server::Arm(Connection& connection, std::chrono::milliseconds after) {
  connection.timer = loop_.After(after, [this, &connection] { Close(connection); });
}

void Server::OnReadable(Connection& connection) {
  char buffer[16384];
  ssize_t n = read(connection.fd.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Close(connection);
    return;
  }
  connection.unparsed.append(buffer, n);
  Parse(connection);
}

void Server::Parse(Connection& connection) {
  http_parser& parser = connection.parser;
  if (HTTP_PARSER_ERRNO(&parser) == HPE_PAUSED) http_parser_pause(&parser, 0);
  size_t parsed = http_parser_execute(&parser, &Callbacks::Settings(), connection.unparsed.data(),
                                      connection.unparsed.size());
  connection.unparsed.erase(0, parsed);
  http_errno error = HTTP_PARSER_ERRNO(&parser);
  if (error == HPE_PAUSED) {
    // Full output: reading waits until the client has taken some.
    if (!loop_.Watch(connection.fd.get(), nullptr).ok()) {
      Close(connection);
      return;
    }
  } else if (error != HPE_OK && !connection.closing) {
    int status = connection.refusal ? connection.refusal : 400;
    connection.output += Serialize(
        {status, "text/plain; charset=utf-8",
         status == 431 ? absl::StrCat("request head over ", limits_.max_head_bytes, " bytes\n")
         : status == 413 ? "request body too large\n"
                         : absl::StrCat("bad request: ", http_errno_name(error), "\n")},
        false, false);
    connection.closing = true;
  }
  if (connection.closing) connection.unparsed.clear();
  Flush(connection);
}

void Server::Flush(Connection& connection) {
  while (!connection.output.empty()) {
    ssize_t n = send(connection.fd.get(), connection.output.data(), connection.output.size(),
                     MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      Close(connection);
      return;
    }
    connection.output.erase(0, n);
    Arm(connection, limits_.idle_timeout);  // progress: a reading client is given time
  }
  int fd = connection.fd.get();
  if (!connection.output.empty()) {
    if (!loop_.WatchWritable(fd, [this, &connection] { Flush(connection); }).ok()) {
      Close(connection);
    }
    return;
  }
  if (connection.closing) {
    Close(connection);
    return;
  }
  bool paused = HTTP_PARSER_ERRNO(&connection.parser) == HPE_PAUSED;
  if (!loop_.Watch(fd, [this, &connection] { OnReadable(connection); }).ok()) {
    Close(connection);
    return;
  }
  if (paused) {
    Parse(connection);  // what was read while the output was full
    return;
  }
  if (!connection.in_request) Arm(connection, limits_.idle_timeout);
}

void Server::Close(Connection& connection) {
  loop_.Unwatch(connection.fd.get());
  if (connection.on_reserve) {
    connection.fd.reset();
    reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  if (--per_address_[connection.address] == 0) per_address_.erase(connection.address);
  connections_.erase(connection.position);  // destroys it: its timer and descriptor
}

}  // namespace tend::http
