#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct MHD_Daemon;

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
};

// An HTTP/1.1 server on libmicrohttpd's own thread: the library parses requests and answers
// malformed ones, oversized headers and idle connections itself, within fixed limits. Only
// GET and HEAD reach the handler; it runs on the server's thread.
class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  // Listens on "ADDR:PORT" ("[ADDR]:PORT" for IPv6; port 0: a free one).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const std::string& address,
                                                       Handler handler);
  ~Server();

  int port() const { return port_; }

 private:
  Server(Handler handler) : handler_(std::move(handler)) {}

  Handler handler_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace tend::http
