#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"
#include "runtime/net/acceptor.h"

namespace tend::http {

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Instead of `body`: one body many answers share (a /metrics exposition), held once
  // however many connections are still sending it.
  std::shared_ptr<const std::string> shared_body;
};

// What one client, or many, can make the server hold, and what happens past each bound.
struct Limits {
  // Connections in all. At the bound, the oldest connection that is not being answered
  // (still sending its request, or idle between requests) is closed for the new one, as
  // nginx and HAProxy do: a prober is never refused because others hold connections open.
  size_t max_connections = 512;
  // Connections from one address; past it, that address's oldest idle or incomplete one
  // is closed, so that one address (the kubelet's) cannot lock itself out either.
  size_t max_connections_per_address = 32;
  // The whole request head must arrive within this, however slowly it trickles (slowloris).
  std::chrono::milliseconds head_deadline{5000};
  // A kept-alive connection with no request, or a client not reading its answer.
  std::chrono::milliseconds idle_timeout{10000};
  // Request line and headers; past it: 431, and the connection closes.
  size_t max_head_bytes = 16 * 1024;
  // Query arguments of one request; past it: 414, and the connection closes.
  size_t max_query_arguments = 32;
  // Answers waiting for a client that does not read: reading pauses until they drain.
  size_t max_pending_output = 1 << 20;
};

// An HTTP/1.1 server on tend's event loop (Debian's http_parser reads requests): no thread of
// its own, so a stuck loop answers nothing, and a client's probe times out. Requests on one
// connection may be pipelined and are answered in order. Only GET and HEAD reach the handler,
// on the loop's thread; anything else gets 405. The handler answers at once or later (a scrape
// that waits for the workers); until it does, its connection reads nothing more and is not
// evicted.
class Server {
 public:
  // Sends the answer to one request, on the loop's thread. Only the first call counts, and
  // one after the connection has gone does nothing.
  using Respond = std::function<void(Response)>;
  using Handler = std::function<void(const Request&, Respond)>;

  // Listens on "ADDR:PORT" ("[ADDR]:PORT" for IPv6; port 0: a free one).
  static absl::StatusOr<std::unique_ptr<Server>> Start(loop::EventLoop& loop,
                                                       const std::string& address, Handler handler,
                                                       Limits limits = {});
  // A server with no listener of its own: it serves connections accepted elsewhere (HTTP
  // probes on the control socket), handed over with Adopt().
  static std::unique_ptr<Server> ForConnections(loop::EventLoop& loop, Handler handler,
                                                Limits limits = {});
  ~Server();

  // Serves a connection accepted elsewhere, from `address` (for the per-address bound).
  void Adopt(UniqueFd connection, std::string address);
  int port() const { return port_; }

 private:
  struct Connection;
  Server(loop::EventLoop& loop, Handler handler, Limits limits);
  // The new connection, or null when it was refused.
  Connection* Admit(UniqueFd fd, std::string address);
  bool Evict(const std::string* address);
  void OnReadable(Connection& connection);
  void Parse(Connection& connection);
  Respond Responder(Connection& connection);
  void Answer(Connection& connection, Response response);
  void Flush(Connection& connection);
  void Arm(Connection& connection, std::chrono::milliseconds after);
  void Close(Connection& connection);
  bool OnDescriptorsExhausted();

  friend struct Callbacks;
  loop::EventLoop& loop_;
  Handler handler_;
  const Limits limits_;
  std::unique_ptr<net::Acceptor> acceptor_;
  // A descriptor held back for the day the process runs out: closed to accept one probe,
  // taken again when that connection ends, so /livez answers even then.
  UniqueFd reserve_;
  bool accepting_on_reserve_ = false;
  bool reserve_in_use_ = false;  // a connection holds the reserve's descriptor
  // The connection whose request the handler is being called with: an answer it gives then
  // is written after the call, by the parse.
  const Connection* in_handler_ = nullptr;
  int port_ = 0;
  std::list<std::unique_ptr<Connection>> connections_;  // oldest first
  std::map<std::string, size_t> per_address_;
};

}  // namespace tend::http
