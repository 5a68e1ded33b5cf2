#include "runtime/http/server.h"

#include <fcntl.h>
#include <http_parser.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/net/listen.h"

namespace tend::http {
namespace {

constexpr int kBacklog = 128;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 505:
      return "HTTP Version Not Supported";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// What waits to be sent on one connection: answers' heads and bodies, a shared body held
// by reference, not copied.
class Output {
 public:
  void Add(std::string text) {
    if (text.empty()) return;
    bytes_ += text.size();
    segments_.push_back({std::move(text), nullptr, 0});
  }
  void Add(std::shared_ptr<const std::string> shared) {
    if (!shared || shared->empty()) return;
    bytes_ += shared->size();
    segments_.push_back({{}, std::move(shared), 0});
  }
  bool empty() const { return segments_.empty(); }
  size_t size() const { return bytes_; }
  // The bytes to send next.
  absl::string_view Next() const {
    const Segment& front = segments_.front();
    return absl::string_view(front.shared ? *front.shared : front.own).substr(front.sent);
  }
  void Consume(size_t sent) {
    bytes_ -= sent;
    Segment& front = segments_.front();
    front.sent += sent;
    if (front.sent == (front.shared ? front.shared->size() : front.own.size())) {
      segments_.pop_front();
    }
  }

 private:
  struct Segment {
    std::string own;
    std::shared_ptr<const std::string> shared;
    size_t sent;
  };
  std::deque<Segment> segments_;
  size_t bytes_ = 0;
};

void Serialize(const Response& response, bool head, bool keep_alive, Output& output) {
  size_t length = response.shared_body ? response.shared_body->size() : response.body.size();
  output.Add(absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                          "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ",
                          length, keep_alive ? "" : "\r\nConnection: close", "\r\n\r\n"));
  if (head) return;
  if (response.shared_body) {
    output.Add(response.shared_body);
  } else {
    output.Add(response.body);
  }
}

}  // namespace

struct Server::Connection {
  Server* server;
  UniqueFd fd;
  std::string address;
  std::list<std::unique_ptr<Connection>>::iterator position;
  http_parser parser;
  std::string unparsed;  // read, not parsed yet (the parser paused on full output)
  std::string url;
  size_t head_bytes = 0;
  size_t body_bytes = 0;
  enum class Phase {
    kBetweenRequests,  // waiting for the next request (the idle timeout)
    kInRequest,        // a request has begun and is not complete (the head deadline)
    kAwaiting,         // the handler has the request and has not answered: nothing is read
    kClosing,          // closes once the output is written: nothing more is read
  } phase = Phase::kBetweenRequests;
  Output output;
  int refusal = 0;        // a status to answer before closing (431, 414, 413)
  uint64_t requests = 0;  // handed to the handler so far: names the one awaited
  struct {
    bool head = false;
    bool keep_alive = false;
  } awaited;                                               // how to answer the request awaited
  bool on_reserve = false;                                 // accepted on the reserve descriptor
  std::shared_ptr<char> alive = std::make_shared<char>();  // a Respond outliving it sees
  std::unique_ptr<loop::Timer> timer;

  bool Busy() const { return !output.empty() || phase == Phase::kAwaiting; }
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
    c.phase = Server::Connection::Phase::kInRequest;
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
    bool keep_alive = http_should_keep_alive(parser) != 0;
    bool head = parser->method == HTTP_HEAD;
    Request request{http_method_str(static_cast<http_method>(parser->method)), "", {}};
    http_parser_url url;
    http_parser_url_init(&url);
    std::optional<Response> refusal;
    if (parser->http_major != 1) {
      refusal = {505, "text/plain; charset=utf-8", "HTTP/1.0 and HTTP/1.1 only\n"};
      keep_alive = false;
    } else if (http_parser_parse_url(c.url.data(), c.url.size(), 0, &url) != 0) {
      refusal = {400, "text/plain; charset=utf-8", "bad request target\n"};
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
        refusal = {
            414, "text/plain; charset=utf-8",
            absl::StrCat("more than ", server.limits_.max_query_arguments, " query arguments\n")};
        keep_alive = false;
      } else if (parser->method != HTTP_GET && !head) {
        refusal = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
      }
    }
    c.phase = Server::Connection::Phase::kAwaiting;
    ++c.requests;
    c.awaited = {head, keep_alive};
    if (refusal) {
      server.Answer(c, std::move(*refusal));
    } else {
      // Saved: the handler may answer another connection, whose parse calls its handler.
      const Server::Connection* outer = server.in_handler_;
      server.in_handler_ = &c;
      server.handler_(request, server.Responder(c));
      server.in_handler_ = outer;
    }
    if (c.phase == Server::Connection::Phase::kAwaiting) {
      // Answered later: nothing more is read until then (Parse stops watching).
      http_parser_pause(parser, 1);
      return 0;
    }
    if (c.phase == Server::Connection::Phase::kClosing) return 1;  // nothing more is read
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
                                                      const std::string& address, Handler handler,
                                                      Limits limits) {
  absl::StatusOr<net::Listening> listening = net::ListenTcp(address, kBacklog);
  if (!listening.ok()) return listening.status();
  std::unique_ptr<Server> server(new Server(loop, std::move(handler), limits));
  server->port_ = listening->port;
  server->reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Server* raw = server.get();
  auto acceptor = net::Acceptor::Start(
      loop, std::move(listening->fd),
      [raw](UniqueFd fd, const sockaddr_storage& peer) {
        Connection* admitted = raw->Admit(std::move(fd), net::ClientOf(peer));
        if (admitted && raw->accepting_on_reserve_) {
          admitted->on_reserve = true;
          raw->reserve_in_use_ = true;
        }
      },
      [raw] { return raw->OnDescriptorsExhausted(); });
  if (!acceptor.ok()) return acceptor.status();
  server->acceptor_ = std::move(*acceptor);
  return server;
}

std::unique_ptr<Server> Server::ForConnections(loop::EventLoop& loop, Handler handler,
                                               Limits limits) {
  return std::unique_ptr<Server>(new Server(loop, std::move(handler), limits));
}

void Server::Adopt(UniqueFd connection, std::string address) {
  Admit(std::move(connection), std::move(address));
}

Server::~Server() {
  acceptor_.reset();
  while (!connections_.empty()) Close(*connections_.front());
}

// Out of descriptors: free one held by an idle client and accept again; else answer one
// client on the reserve descriptor while the acceptor pauses.
bool Server::OnDescriptorsExhausted() {
  if (Evict(nullptr)) return true;
  if (!acceptor_) return false;
  if (!reserve_) return false;  // in use already
  reserve_.reset();
  accepting_on_reserve_ = true;
  acceptor_->AcceptOne();
  accepting_on_reserve_ = false;
  // Nothing accepted, or accepted and refused (closed at once): the descriptor is free
  // again, and held in reserve again, or the next exhaustion would find none.
  if (!reserve_in_use_) reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  return false;
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
  } else if (error != HPE_OK && connection.phase != Connection::Phase::kClosing) {
    int status = connection.refusal ? connection.refusal : 400;
    Serialize(
        {status, "text/plain; charset=utf-8",
         status == 431   ? absl::StrCat("request head over ", limits_.max_head_bytes, " bytes\n")
         : status == 413 ? "request body too large\n"
                         : absl::StrCat("bad request: ", http_errno_name(error), "\n")},
        false, false, connection.output);
    connection.phase = Connection::Phase::kClosing;
  }
  if (connection.phase == Connection::Phase::kClosing) connection.unparsed.clear();
  Flush(connection);
}

Server::Respond Server::Responder(Connection& connection) {
  return [this, &connection, alive = std::weak_ptr<char>(connection.alive),
          request = connection.requests](Response response) {
    if (alive.expired() || connection.phase != Connection::Phase::kAwaiting ||
        connection.requests != request) {
      return;
    }
    bool later = in_handler_ != &connection;
    Answer(connection, std::move(response));
    if (later) Flush(connection);
  };
}

void Server::Answer(Connection& connection, Response response) {
  Serialize(response, connection.awaited.head, connection.awaited.keep_alive, connection.output);
  connection.phase = connection.awaited.keep_alive ? Connection::Phase::kBetweenRequests
                                                   : Connection::Phase::kClosing;
}

void Server::Flush(Connection& connection) {
  while (!connection.output.empty()) {
    absl::string_view next = connection.output.Next();
    ssize_t n = send(connection.fd.get(), next.data(), next.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      Close(connection);
      return;
    }
    connection.output.Consume(static_cast<size_t>(n));
    Arm(connection, limits_.idle_timeout);  // progress: a reading client is given time
  }
  int fd = connection.fd.get();
  if (!connection.output.empty()) {
    if (!loop_.WatchWritable(fd, [this, &connection] { Flush(connection); }).ok()) {
      Close(connection);
    }
    return;
  }
  if (connection.phase == Connection::Phase::kAwaiting) return;  // its answer resumes reading
  if (connection.phase == Connection::Phase::kClosing) {
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
  if (connection.phase == Connection::Phase::kBetweenRequests) {
    Arm(connection, limits_.idle_timeout);
  }
}

void Server::Close(Connection& connection) {
  loop_.Unwatch(connection.fd.get());
  if (connection.on_reserve) {
    connection.fd.reset();
    reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    reserve_in_use_ = false;
  }
  if (--per_address_[connection.address] == 0) per_address_.erase(connection.address);
  connections_.erase(connection.position);  // destroys it: its timer and descriptor
}

}  // namespace tend::http
