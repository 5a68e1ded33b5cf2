// The IPC channel and the cluster protocol, against a socket standing in for the worker.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/cluster/ipc_channel.h"
#include "runtime/cluster/shared_sockets.h"
#include "runtime/cluster/worker_session.h"
#include "runtime/loop/event_loop.h"
#include "tests/testing/faults.h"

namespace tend::cluster {
namespace {

using Event = WorkerSession::Event;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = loop::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    sockets_ = std::make_unique<SharedSockets>(*loop_, kGrace);
    auto channel = IpcChannel::Create();
    ASSERT_TRUE(channel.ok());
    channel_ = std::move(*channel);
    worker_ = channel_->child_end();
  }

  void WorkerWrites(const std::string& bytes) {
    ASSERT_EQ(write(worker_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // What the worker reads next: one line, and the descriptor that came with it (or -1).
  std::string WorkerReads(int* fd = nullptr) {
    char buffer[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(worker_, &msg, MSG_DONTWAIT);
    if (fd) {
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      *fd = c ? *reinterpret_cast<int*>(CMSG_DATA(c)) : -1;
    }
    return n > 0 ? std::string(buffer, n) : "";
  }

  std::vector<std::string> Read(IpcChannel::ReadStatus expected = IpcChannel::ReadStatus::kOpen) {
    std::vector<std::string> messages;
    int stray = 0;
    EXPECT_EQ(channel_->Read(&messages, &stray), expected);
    stray_fds_ += stray;
    return messages;
  }

  // Runs the loop for `time` (long enough for the sockets' release grace).
  void RunFor(std::chrono::milliseconds time) {
    auto stop = loop_->After(time, [this] { loop_->Stop(); });
    ASSERT_TRUE(loop_->Run().ok());
  }

  static constexpr std::chrono::milliseconds kGrace{20};
  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<SharedSockets> sockets_;
  std::unique_ptr<IpcChannel> channel_;
  int worker_ = -1;
  int stray_fds_ = 0;
};

TEST_F(ClusterTest, SplitsLinesAcrossReads) {
  WorkerWrites("\"rea");
  EXPECT_TRUE(Read().empty());
  WorkerWrites("dy\"\n{\"a\":1}\n");
  EXPECT_EQ(Read(), (std::vector<std::string>{"\"ready\"", "{\"a\":1}"}));
}

TEST_F(ClusterTest, OversizedLineBreaksTheChannel) {
  WorkerWrites(std::string(IpcChannel::kMaxMessageBytes + 1, 'x'));
  Read(IpcChannel::ReadStatus::kOversized);
}

TEST_F(ClusterTest, ClosedPeerReadsAsClosed) {
  channel_->CloseChildEnd();
  Read(IpcChannel::ReadStatus::kClosed);
}

TEST_F(ClusterTest, QueueOfAWorkerThatNeverReadsIsCapped) {
  std::string line(1000, 'x');
  int accepted = 0;
  while (channel_->Send(line) && accepted < 10000) ++accepted;
  EXPECT_LT(accepted, 10000);
  EXPECT_LE(accepted * 1001u, IpcChannel::kMaxQueuedBytes);
}

TEST_F(ClusterTest, AWorkerThatNeverAcknowledgesHoldsFewDuplicatesInTend) {
  auto socket = sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 0, 4, 0, 0});
  size_t queued = 0;
  while (channel_->Send(R"({"cmd":"NODE_HANDLE"})", socket.fd) && queued < 1000) ++queued;
  EXPECT_EQ(queued, IpcChannel::kMaxQueuedFds);
  EXPECT_TRUE(channel_->Send("{}"));  // lines without a descriptor still go
}

// Out of descriptors, the worker is told (EMFILE) instead of getting a message that claims
// a descriptor it never receives.
TEST_F(ClusterTest, NoDescriptorLeftForASocketIsReportedToTheWorker) {
  WorkerSession session(*channel_, *sockets_, {"app", 1, false, /*round_robin=*/false}, [] {});
  auto socket = sockets_->Acquire({"app", 2, false}, {"127.0.0.1", 0, 4, 0, 0});
  ASSERT_GE(socket.fd, 0);
  {
    testing::NoDescriptorsLeft exhausted;
    ASSERT_TRUE(exhausted.ok());
    ASSERT_TRUE(session
                    .Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"127.0.0.1",)"
                            R"("port":0,"addressType":4,"index":0,"seq":5})")
                    .ok());
    ASSERT_TRUE(session
                    .Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"127.0.0.1",)"
                            R"("port":0,"addressType":4,"index":1,"seq":6})")
                    .ok());
  }
  channel_->Flush();
  std::string replies = WorkerReads();
  std::vector<std::string> lines = absl::StrSplit(replies, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << replies;
  for (const std::string& line : lines) {
    EXPECT_EQ(nlohmann::json::parse(line)["errno"], -EMFILE) << line;
  }
}

TEST_F(ClusterTest, AnswersQueryServerWithTheSharedSocketAsNodeExpects) {
  WorkerSession session(*channel_, *sockets_, {"app", 1, true, /*round_robin=*/false}, [] {});
  auto event = session.Handle(
      R"({"cmd":"NODE_CLUSTER","act":"queryServer","index":0,"data":null,"address":null,)"
      R"("port":0,"addressType":4,"backlog":0,"seq":1})");
  ASSERT_TRUE(event.ok());
  ASSERT_TRUE(channel_->Flush());
  int fd = -1;
  nlohmann::json reply = nlohmann::json::parse(WorkerReads(&fd));
  EXPECT_EQ(reply["cmd"], "NODE_HANDLE");
  EXPECT_EQ(reply["type"], "net.Native");
  EXPECT_EQ(reply["msg"]["cmd"], "NODE_CLUSTER");
  EXPECT_EQ(reply["msg"]["ack"], 1);
  EXPECT_EQ(reply["msg"]["errno"], 0);
  ASSERT_GE(fd, 0);
  int listening = 0;
  socklen_t length = sizeof listening;
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length);
  EXPECT_EQ(listening, 1);
  close(fd);

  // Everything waits behind a handle until the worker acknowledges it.
  session.SendDrain();
  channel_->Flush();
  EXPECT_EQ(WorkerReads(), "");
  ASSERT_EQ(session.Handle(R"({"cmd":"NODE_HANDLE_ACK"})").value(), Event::kNone);
  channel_->Flush();
  EXPECT_EQ(WorkerReads(), "{\"cmd\":\"NODE_TEND_DRAIN\"}\n");
}

TEST_F(ClusterTest, SecondWorkerGetsTheSameSocketAndBindErrorsGoBackAsUvErrno) {
  auto first = sockets_->Acquire({"app", 1, true}, {"", 0, 4, 0, 0});
  auto again = sockets_->Acquire({"app", 2, true}, {"", 0, 4, 0, 0});
  ASSERT_GE(first.fd, 0);
  EXPECT_EQ(first.fd, again.fd);
  auto bad = sockets_->Acquire({"app", 1, true}, {"not-an-address", 80, 4, 0, 0});
  EXPECT_LT(bad.uv_errno, 0);

  WorkerSession session(*channel_, *sockets_, {"app", 1, true, /*round_robin=*/false}, [] {});
  ASSERT_TRUE(session
                  .Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"x.y",)"
                          R"("port":1,"addressType":4,"seq":7})")
                  .ok());
  channel_->Flush();
  nlohmann::json reply = nlohmann::json::parse(WorkerReads());
  EXPECT_EQ(reply["ack"], 7);
  EXPECT_LT(reply["errno"].get<int>(), 0);
}

TEST(WorkerSessionSeqTest, WrapsWithinAnIntInsteadOfTurningNegative) {
  EXPECT_EQ(WorkerSession::SeqAfter(0), 1);
  EXPECT_EQ(WorkerSession::SeqAfter(std::numeric_limits<int>::max()), 0);
}

TEST_F(ClusterTest, AnotherAppsWorkerCannotJoinAnAppsSocket) {
  auto first = sockets_->Acquire({"a", 1, true}, {"127.0.0.1", 0, 4, 0, 0});
  ASSERT_GE(first.fd, 0);
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  ASSERT_EQ(getsockname(first.fd, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  int port = ntohs(bound.sin_port);
  auto same_app = sockets_->Acquire({"a", 2, true}, {"127.0.0.1", 0, 4, 0, 0});
  EXPECT_EQ(same_app.fd, first.fd);
  auto other_app = sockets_->Acquire({"b", 3, true}, {"127.0.0.1", port, 4, 0, 0});
  EXPECT_EQ(other_app.fd, -1);
  EXPECT_EQ(other_app.uv_errno, -EADDRINUSE);
  // Names and addresses cannot be chosen to make another app's key ("a" asking for
  // address "b/x" is not app "a/b" asking for "x").
  auto slash = sockets_->Acquire({"a/b", 4, true}, {"127.0.0.1", port, 4, 0, 0});
  EXPECT_EQ(slash.uv_errno, -EADDRINUSE);
  // Port 0 is a free port: each app gets its own.
  auto a_any = sockets_->Acquire({"a", 1, true}, {"127.0.0.1", 0, 4, 1, 0});
  auto b_any = sockets_->Acquire({"b", 3, true}, {"127.0.0.1", 0, 4, 1, 0});
  ASSERT_GE(a_any.fd, 0);
  ASSERT_GE(b_any.fd, 0);
  EXPECT_NE(a_any.fd, b_any.fd);
}

TEST_F(ClusterTest, ReportsLifecycleEventsAndSurvivesGarbage) {
  WorkerSession session(*channel_, *sockets_, {"app", 1, true, /*round_robin=*/false}, [] {});
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_CLUSTER","act":"online","seq":0})").value(),
            Event::kOnline);
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_CLUSTER","act":"listening","seq":2})").value(),
            Event::kListening);
  EXPECT_EQ(session.Handle(R"("ready")").value(), Event::kReady);
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_TEND_DRAINED"})").value(), Event::kDrained);
  EXPECT_EQ(session.Handle(R"({"type":"prom-client:getMetricsReq"})").value(), Event::kNone);
  for (const char* garbage : {"not json", "{", "", "[1,2]", "123", R"({"cmd":42})",
                              R"({"cmd":"NODE_CLUSTER","act":[],"seq":"x"})",
                              R"({"cmd":"NODE_CLUSTER","act":"queryServer","port":"80"})"}) {
    (void)session.Handle(garbage);  // an error or kNone; never a crash
  }
  EXPECT_FALSE(session.Handle("not json").ok());
}

// The app's metrics come in messages of families, read as they arrive: joined, bounded by
// what they hold, and only for what tend asked.
TEST_F(ClusterTest, AppMetricsArriveInPiecesForTheRequestAskedOnly) {
  WorkerSession session(*channel_, *sockets_, {"app", 1, true, /*round_robin=*/false}, [] {});
  auto piece = [](int id, const std::string& rest) {
    return R"({"cmd":"NODE_TEND_METRICS","id":)" + std::to_string(id) + "," + rest + "}";
  };
  const std::string family = R"({"name":"g","type":"gauge","values":[{"value":1}]})";
  const std::string other = R"({"name":"h","type":"gauge","values":[{"value":2}]})";
  EXPECT_FALSE(session.Handle(piece(1, R"("families":[],"last":true)")).ok());
  session.RequestAppMetrics();
  channel_->Flush();
  EXPECT_EQ(WorkerReads(), "{\"cmd\":\"NODE_TEND_METRICS\",\"id\":1}\n");
  EXPECT_EQ(session.Handle(piece(1, R"("families":[)" + family + R"(],"last":false)")).value(),
            Event::kNone);
  EXPECT_EQ(session.Handle(piece(1, R"("families":[)" + family + "," + other + R"(],"last":true)"))
                .value(),
            Event::kAppMetrics);
  AppMetricsAnswer answer = session.TakeAppMetrics();
  ASSERT_EQ(answer.registry.families.size(), 2u);  // g's two parts are one family
  EXPECT_EQ(answer.registry.families[0].values.size(), 2u);
  EXPECT_EQ(answer.registry.families[1].name, "h");
  EXPECT_TRUE(answer.error.empty());
  // A late piece of an answer already complete is ignored; an id never asked is an error.
  EXPECT_EQ(session.Handle(piece(1, R"("families":[)" + family + R"(],"last":true)")).value(),
            Event::kNone);
  EXPECT_FALSE(session.Handle(piece(2, R"("last":true)")).ok());
  // The message in any other form is refused: the preload never writes it.
  EXPECT_FALSE(session.Handle(R"({"id":1,"cmd":"NODE_TEND_METRICS","last":true})").ok());

  // Past the bound of what an answer holds, read, the rest is read and not kept.
  session.RequestAppMetrics(4096);
  std::string many;
  for (int i = 0; i < 40; ++i) many += (i ? "," : "") + family;
  EXPECT_EQ(session.Handle(piece(2, R"("families":[)" + many + R"(],"last":false)")).value(),
            Event::kNone);
  EXPECT_EQ(session.Handle(piece(2, R"("families":[)" + many + R"(],"last":true)")).value(),
            Event::kAppMetrics);
  AppMetricsAnswer too_large = session.TakeAppMetrics();
  EXPECT_TRUE(too_large.registry.too_large);
  EXPECT_TRUE(too_large.registry.families.empty());

  // A part that is not the preload's JSON ends the answer at once, as invalid.
  session.RequestAppMetrics();
  EXPECT_EQ(session.Handle(piece(3, R"("families":[{"name":"g",)")).value(), Event::kAppMetrics);
  AppMetricsAnswer broken = session.TakeAppMetrics();
  EXPECT_FALSE(broken.error.empty());
  EXPECT_TRUE(broken.registry.families.empty());
  int id = 3;
  const std::pair<std::string, std::string> wrongs[] = {
      {R"("families":{},"last":true)", ""},
      {R"("last":"yes")", ""},
      {R"("unknown":1,"last":true)", ""},
      {R"("families":[],"last":true)", " x"},
      {R"("families":[],"last":true)", std::string(1, '\0') + "x"},
      {"\"error\":\"\xff\",\"last\":true", ""},
      {"\"error\":\"\xf0", ""},  // a lead byte with no tail
      {R"("families":[)" + std::string(20, '[') + std::string(20, ']') + "]", ""}};
  for (const auto& [rest, after] : wrongs) {
    session.RequestAppMetrics();
    const std::string wrong(piece(++id, rest) + after);  // sized exactly, for ASan
    ASSERT_EQ(session.Handle(wrong).value(), Event::kAppMetrics) << wrong;
    EXPECT_FALSE(session.TakeAppMetrics().error.empty()) << wrong;
  }

  session.RequestAppMetrics();
  EXPECT_EQ(session.Handle(piece(++id, R"("none":true,"last":true)")).value(), Event::kAppMetrics);
  EXPECT_TRUE(session.TakeAppMetrics().none);
}

// What the kernel would tell a worker that binds the port itself.
TEST_F(ClusterTest, PrivilegedPortIsRefusedToAWorkerThatIsNotRoot) {
  auto refused = sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 707, 4, 0, 0});
  EXPECT_EQ(refused.fd, -1);
  EXPECT_EQ(refused.uv_errno, -EACCES);
  EXPECT_EQ(sockets_->open_sockets(), 0u);
  // Port 0 and unprivileged ports are anyone's.
  EXPECT_GE(sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 0, 4, 0, 0}).fd, 0);
}

TEST_F(ClusterTest, OutOfRangeNumbersAreNoPort) {
  WorkerSession session(*channel_, *sockets_, {"app", 1, false, /*round_robin=*/false}, [] {});
  // 65536 + 707 would wrap to 707 as a 16-bit port, and 2^32 + 707 to 707 as an int.
  for (const char* port : {"66243", "4294967003", "-1", "1e3"}) {
    ASSERT_TRUE(
        session
            .Handle(absl::StrCat(
                R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"127.0.0.1","port":)", port,
                R"(,"addressType":4,"seq":3})"))
            .ok());
    channel_->Flush();
    nlohmann::json reply = nlohmann::json::parse(WorkerReads());
    EXPECT_LT(reply["errno"].get<int>(), 0) << port;
  }
  EXPECT_EQ(sockets_->open_sockets(), 0u);
}

TEST_F(ClusterTest, AnAppHoldsAtMostItsCapOfSockets) {
  for (size_t index = 0; index < SharedSockets::kMaxSocketsPerApp; ++index) {
    ASSERT_GE(
        sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 0, 4, static_cast<int>(index), 0}).fd,
        0);
  }
  auto over = sockets_->Acquire({"app", 2, false}, {"127.0.0.1", 0, 4, 1000, 0});
  EXPECT_EQ(over.uv_errno, -EMFILE);
  // A socket the app holds already is still shared with its other workers; other apps
  // have caps of their own.
  EXPECT_GE(sockets_->Acquire({"app", 2, false}, {"127.0.0.1", 0, 4, 0, 0}).fd, 0);
  EXPECT_GE(sockets_->Acquire({"other", 3, false}, {"127.0.0.1", 0, 4, 1000, 0}).fd, 0);
  // Released sockets waiting out their grace still count.
  sockets_->ReleaseAll(1);
  EXPECT_EQ(sockets_->Acquire({"app", 4, false}, {"127.0.0.1", 0, 4, 1001, 0}).uv_errno, -EMFILE);
}

TEST_F(ClusterTest, ASocketNoWorkerHoldsIsClosedAfterTheGrace) {
  auto first = sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 0, 4, 0, 0});
  auto second = sockets_->Acquire({"app", 1, false}, {"127.0.0.1", 0, 4, 1, 0});
  sockets_->Acquire({"app", 2, false}, {"127.0.0.1", 0, 4, 0, 0});
  ASSERT_EQ(sockets_->open_sockets(), 2u);
  sockets_->ReleaseAll(1);
  RunFor(kGrace * 5);
  EXPECT_EQ(sockets_->open_sockets(), 1u);  // worker 2 still holds the first
  EXPECT_EQ(fcntl(second.fd, F_GETFD), -1);
  EXPECT_GE(fcntl(first.fd, F_GETFD), 0);

  // A worker that comes back within the grace (a restart) finds the socket still open.
  sockets_->Release(2, first.key);
  auto back = sockets_->Acquire({"app", 3, false}, {"127.0.0.1", 0, 4, 0, 0});
  RunFor(kGrace * 5);
  EXPECT_EQ(back.fd, first.fd);
  EXPECT_EQ(sockets_->open_sockets(), 1u);
}

TEST_F(ClusterTest, AWorkerThatClosesItsServerReleasesItsSocket) {
  {
    WorkerSession session(*channel_, *sockets_, {"app", 1, false, /*round_robin=*/false}, [] {});
    ASSERT_TRUE(session
                    .Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"127.0.0.1",)"
                            R"("port":0,"addressType":4,"index":0,"seq":1})")
                    .ok());
    ASSERT_EQ(sockets_->open_sockets(), 1u);
    ASSERT_TRUE(
        session.Handle(R"({"cmd":"NODE_CLUSTER","act":"close","key":"3:app/127.0.0.1:0:4:0"})")
            .ok());
    RunFor(kGrace * 5);
    EXPECT_EQ(sockets_->open_sockets(), 0u);
    ASSERT_TRUE(session
                    .Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"127.0.0.1",)"
                            R"("port":0,"addressType":4,"index":1,"seq":2})")
                    .ok());
  }
  // The session ended (the worker is gone): it holds nothing.
  RunFor(kGrace * 5);
  EXPECT_EQ(sockets_->open_sockets(), 0u);
}

}  // namespace
}  // namespace tend::cluster
