// The HTTP server on a real loop and real sockets, as hostile and careless clients use it.
#include "runtime/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/loop/cross_thread.h"
#include "tests/testing/faults.h"

namespace tend::http {
namespace {

using namespace std::chrono_literals;

class ServerTest : public ::testing::Test {
 protected:
  void Start(Limits limits) {
    loop_ = std::move(*loop::EventLoop::Create());
    bridge_ = std::move(*loop::CrossThread::Create(*loop_));
    // /later/N is answered N ms later, on the loop, as a scrape waiting for workers is.
    auto started = Server::Start(
        *loop_, "127.0.0.1:0",
        [this](const Request& request, Server::Respond respond) {
          std::string body = request.path;
          for (const auto& [key, value] : request.query) body += " " + key + "=" + value;
          Response response{200, "text/plain", body};
          if (request.path.rfind("/later/", 0) != 0) return respond(response);
          auto delay = std::chrono::milliseconds(std::stoi(request.path.substr(7)));
          later_.push_back(loop_->After(delay, [respond, response] {
            respond(response);
            respond({500, "text/plain", "a second answer"});  // ignored
          }));
        },
        limits);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    running_ = std::thread([this] { EXPECT_TRUE(loop_->Run().ok()); });
  }
  void TearDown() override {
    for (int fd : clients_) close(fd);
    if (running_.joinable()) {
      bridge_->Post([this] {
        server_.reset();
        later_.clear();
        loop_->Stop();
      });
      running_.join();
    }
  }

  // A connection from `from` (any address of 127.0.0.0/8 is this machine).
  int Connect(const char* from = "127.0.0.1") {
    int fd = Bound(from);
    ConnectBound(fd);
    return fd;
  }
  // A socket bound to `from`, to connect later (when the process may have no descriptor left).
  int Bound(const char* from) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from, &local.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    clients_.push_back(fd);
    return fd;
  }
  void ConnectBound(int fd) {
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(server_->port());
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server), 0);
  }
  void Send(int fd, const std::string& bytes) {
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // Everything the server sends until it closes or `within` passes.
  std::string Receive(int fd, std::chrono::milliseconds within = 2s) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd readable{fd, POLLIN, 0};
      if (poll(&readable, 1, 20) <= 0) continue;
      char buffer[65536];
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      got.append(buffer, n);
    }
    return got;
  }
  // Whether the server closed `fd` within `within`.
  bool Closed(int fd, std::chrono::milliseconds within) {
    pollfd readable{fd, POLLIN, 0};
    char byte;
    return poll(&readable, 1, within.count()) == 1 && read(fd, &byte, 1) <= 0;
  }
  static size_t Count(const std::string& text, const std::string& part) {
    size_t count = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
      ++count;
    return count;
  }

  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<loop::CrossThread> bridge_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<loop::Timer>> later_;
  std::thread running_;
  std::vector<int> clients_;
};

TEST_F(ServerTest, PipelinedRequestsAreEachAnsweredInOrder) {
  Start({});
  int fd = Connect();
  Send(fd,
       "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
       "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string got = Receive(fd);
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_LT(got.find("\r\n\r\n/a"), got.find("\r\n\r\n/b"));
  EXPECT_LT(got.find("\r\n\r\n/b"), got.find("\r\n\r\n/c"));
}

// An answer that comes later keeps its place: the requests after it wait, and are answered
// after it, in order.
TEST_F(ServerTest, AnAnswerGivenLaterKeepsItsPlaceInThePipeline) {
  Start({});
  int fd = Connect();
  Send(fd,
       "GET /later/200 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
       "GET /later/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string got = Receive(fd);
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_EQ(Count(got, "a second answer"), 0u) << got;
  EXPECT_LT(got.find("\r\n\r\n/later/200"), got.find("\r\n\r\n/b"));
  EXPECT_LT(got.find("\r\n\r\n/b"), got.find("\r\n\r\n/later/10"));
}

// The client leaves before its answer is ready: the answer finds no connection, and nothing
// breaks (ASan would see a use after free).
TEST_F(ServerTest, AnAnswerForAClosedConnectionIsDropped) {
  Start({});
  int fd = Connect();
  Send(fd, "GET /later/100 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(20ms);
  shutdown(fd, SHUT_RDWR);
  int other = Connect();
  Send(other, "GET /later/200 HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(Receive(other).find("\r\n\r\n/later/200"), std::string::npos);
}

TEST_F(ServerTest, TooManyQueryArgumentsGetAPromptAnswer) {
  Start({});
  int fd = Connect();
  std::string query;
  for (int i = 0; i < 500; ++i) query += "a" + std::to_string(i) + "=1&";
  Send(fd, "GET /readyz?" + query + " HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = Receive(fd, 2s);
  EXPECT_EQ(got.rfind("HTTP/1.1 414", 0), 0u) << got;
  EXPECT_NE(got.find("more than 32 query arguments"), std::string::npos);
}

TEST_F(ServerTest, AnOversizedHeadIsRefused) {
  Start({});
  int fd = Connect();
  Send(fd, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'x') + "\r\n\r\n");
  EXPECT_EQ(Receive(fd).rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(ServerTest, OnlyGetAndHead) {
  Start({});
  int fd = Connect();
  Send(fd,
       "POST /livez HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
       "HEAD /livez HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string got = Receive(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 405", 0), 0u) << got;
  // HEAD: the length of the body, not the body.
  EXPECT_NE(got.find("Content-Length: 6\r\nConnection: close\r\n\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("\r\n\r\n/livez"), std::string::npos);
}

// Slowloris: a head that trickles in is cut at the deadline, however steadily it trickles.
TEST_F(ServerTest, ARequestHeadMustArriveWithinItsDeadline) {
  Limits limits;
  limits.head_deadline = 300ms;
  Start(limits);
  int fd = Connect();
  Send(fd, "GET / HTTP/1.1\r\n");
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) {
    Send(fd, "X-A: b\r\n");
    closed = Closed(fd, 100ms);
  }
  EXPECT_TRUE(closed);
}

// One address holding its limit does not lock out its own next connection (the kubelet's).
TEST_F(ServerTest, AFullAddressMakesRoomForItsNewConnection) {
  Limits limits;
  limits.max_connections_per_address = 4;
  Start(limits);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect("127.0.0.2"));
  std::this_thread::sleep_for(100ms);
  int probe = Connect("127.0.0.2");
  Send(probe, "GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Receive(probe).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(Closed(idle[0], 1s)) << "the oldest idle one made room";
}

// At the global limit the oldest idle or incomplete connection is closed, not the new one.
TEST_F(ServerTest, AFullServerClosesItsOldestIdleConnectionForANewOne) {
  Limits limits;
  limits.max_connections = 8;
  Start(limits);
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(Connect(("127.0.1." + std::to_string(i + 1)).c_str()));
    Send(idle.back(), "GET / HTTP/1.1\r\n");  // incomplete
  }
  std::this_thread::sleep_for(100ms);
  int probe = Connect("127.0.2.1");
  Send(probe, "GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Receive(probe).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(Closed(idle[0], 1s));
}

TEST_F(ServerTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  Limits limits;
  limits.idle_timeout = 200ms;
  Start(limits);
  int fd = Connect();
  Send(fd, "GET /a HTTP/1.1\r\n\r\n");
  auto sent = std::chrono::steady_clock::now();
  EXPECT_EQ(Receive(fd, 5s).rfind("HTTP/1.1 200", 0), 0u);  // Receive ends at the close
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s);
}

// Out of descriptors, a connection taken on the reserve descriptor and then refused (its
// address is full of connections being answered) gives the reserve back, so the next
// client, the kubelet's probe, is still answered on it.
TEST_F(ServerTest, AConnectionRefusedOnTheReserveGivesItBack) {
  Limits limits;
  limits.max_connections_per_address = 1;
  Start(limits);
  int busy = Connect("127.0.0.3");
  Send(busy, "GET /later/3000 HTTP/1.1\r\n\r\n");
  int refused = Bound("127.0.0.3");
  int probe = Bound("127.0.0.4");
  std::this_thread::sleep_for(100ms);
  testing::NoDescriptorsLeft exhausted;
  ASSERT_TRUE(exhausted.ok());
  ConnectBound(refused);
  EXPECT_TRUE(Closed(refused, 1s)) << "refused: its address is full";
  ConnectBound(probe);
  Send(probe, "GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Receive(probe).rfind("HTTP/1.1 200", 0), 0u);
}

}  // namespace
}  // namespace tend::http
