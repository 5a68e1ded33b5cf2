// The IPC channel and the cluster protocol, against a socket standing in for the worker.
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/cluster/ipc_channel.h"
#include "runtime/cluster/shared_sockets.h"
#include "runtime/cluster/worker_session.h"

namespace tend::cluster {
namespace {

using Event = WorkerSession::Event;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
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

  std::unique_ptr<IpcChannel> channel_;
  int worker_ = -1;
  int stray_fds_ = 0;
  SharedSockets sockets_;
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

TEST_F(ClusterTest, AnswersQueryServerWithTheSharedSocketAsNodeExpects) {
  WorkerSession session(*channel_, sockets_);
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
  auto first = sockets_.Listen("", 0, 4, 0, 0);
  auto again = sockets_.Listen("", 0, 4, 0, 0);
  ASSERT_GE(first.fd, 0);
  EXPECT_EQ(first.fd, again.fd);
  auto bad = sockets_.Listen("not-an-address", 80, 4, 0, 0);
  EXPECT_LT(bad.uv_errno, 0);

  WorkerSession session(*channel_, sockets_);
  ASSERT_TRUE(session.Handle(R"({"cmd":"NODE_CLUSTER","act":"queryServer","address":"x.y",)"
                             R"("port":1,"addressType":4,"seq":7})").ok());
  channel_->Flush();
  nlohmann::json reply = nlohmann::json::parse(WorkerReads());
  EXPECT_EQ(reply["ack"], 7);
  EXPECT_LT(reply["errno"].get<int>(), 0);
}

TEST_F(ClusterTest, ReportsLifecycleEventsAndSurvivesGarbage) {
  WorkerSession session(*channel_, sockets_);
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_CLUSTER","act":"online","seq":0})").value(),
            Event::kOnline);
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_CLUSTER","act":"listening","seq":2})").value(),
            Event::kListening);
  EXPECT_EQ(session.Handle(R"("ready")").value(), Event::kReady);
  EXPECT_EQ(session.Handle(R"({"cmd":"NODE_TEND_DRAINED"})").value(), Event::kDrained);
  EXPECT_EQ(session.Handle(R"({"type":"prom-client:getMetricsReq"})").value(), Event::kNone);
  for (const char* garbage : {"not json", "{", "", "[1,2]", "123",
                              R"({"cmd":42})", R"({"cmd":"NODE_CLUSTER","act":[],"seq":"x"})",
                              R"({"cmd":"NODE_CLUSTER","act":"queryServer","port":"80"})"}) {
    (void)session.Handle(garbage);  // an error or kNone; never a crash
  }
  EXPECT_FALSE(session.Handle("not json").ok());
}

}  // namespace
}  // namespace tend::cluster
