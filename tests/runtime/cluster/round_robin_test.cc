#include "runtime/cluster/round_robin.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/net/listen.h"

namespace tend::cluster {
namespace {

using namespace std::chrono_literals;

// Workers as the distributor sees them: what each was handed (by the client's port, so a
// connection can be followed), answered by the test.
class RoundRobinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create());
    auto listening = net::ListenTcp("127.0.0.1:0", 2048);
    ASSERT_TRUE(listening.ok());
    port_ = listening->port;
    round_robin_ = std::move(*RoundRobin::Start(*loop_, std::move(listening->fd)));
  }

  void AddWorker(int id, bool serving = true) {
    round_robin_->Add(id, [this, id](int connection) {
      handed_[id].push_back({next_seq_, PeerPort(connection)});
      return next_seq_++;
    });
    round_robin_->SetServing(id, serving);
  }

  // Connects `count` clients, then lets the loop accept and hand them.
  void Connect(int count) {
    for (int i = 0; i < count; ++i) {
      UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port_);
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
      clients_.push_back(std::move(client));
    }
    Turn();
  }

  void Turn(std::chrono::milliseconds run_for = 50ms) {
    auto stop = loop_->After(run_for, [this] { loop_->Stop(); });
    ASSERT_TRUE(loop_->Run().ok());
  }

  // Answers what `id` was handed and has not answered; answering may hand it more, which
  // waits for the next call.
  void AnswerAll(int id, bool accepted) {
    std::vector<Handed> now = handed_[id];
    for (const Handed& h : now) {
      if (answered_.insert(h.seq).second) round_robin_->Answered(id, h.seq, accepted);
    }
  }

  static int PeerPort(int fd) {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length);
    return ntohs(peer.sin_port);
  }

  struct Handed {
    int seq;
    int client_port;
  };
  std::unique_ptr<loop::EventLoop> loop_;
  std::unique_ptr<RoundRobin> round_robin_;
  int port_ = 0;
  int next_seq_ = 0;
  std::map<int, std::vector<Handed>> handed_;  // every connection handed, in order
  std::set<int> answered_;
  std::vector<UniqueFd> clients_;
};

TEST_F(RoundRobinTest, WorkersThatAnswerGetTheirTurnsEvenly) {
  for (int id : {1, 2, 3}) AddWorker(id);
  for (int round = 0; round < 10; ++round) {
    Connect(3);
    for (int id : {1, 2, 3}) AnswerAll(id, true);
  }
  for (int id : {1, 2, 3}) EXPECT_EQ(handed_[id].size(), 10u) << id;
}

TEST_F(RoundRobinTest, AWorkerWithUnansweredConnectionsIsPassedOver) {
  AddWorker(1);
  AddWorker(2);
  Connect(2);  // one each, neither answered
  AnswerAll(2, true);
  Connect(1);  // 1 still owes an answer: 2 gets it
  EXPECT_EQ(handed_[1].size(), 1u);
  EXPECT_EQ(handed_[2].size(), 2u);
  // At kMaxUnanswered a worker gets nothing more, and connections wait.
  round_robin_->SetServing(2, false);
  Connect(RoundRobin::kMaxUnanswered + 2);
  EXPECT_EQ(handed_[1].size(), static_cast<size_t>(RoundRobin::kMaxUnanswered));
  EXPECT_EQ(round_robin_->waiting(), 3u);
}

TEST_F(RoundRobinTest, ARefusedConnectionGoesToAnotherWorker) {
  AddWorker(1);
  AddWorker(2);
  Connect(1);
  int first = handed_.count(1) ? 1 : 2, other = 3 - first;
  int client_port = handed_[first][0].client_port;
  AnswerAll(first, false);
  ASSERT_EQ(handed_[other].size(), 1u);
  EXPECT_EQ(handed_[other][0].client_port, client_port);
}

// A worker that refuses everything cannot keep tend handing one connection round: after
// kMaxRefusals it is closed, and the client sees the end of it.
TEST_F(RoundRobinTest, AConnectionRefusedTooOftenIsClosed) {
  AddWorker(1);
  Connect(1);
  for (int i = 0; i < 10; ++i) AnswerAll(1, false);
  EXPECT_EQ(handed_[1].size(), static_cast<size_t>(RoundRobin::kMaxRefusals));
  EXPECT_EQ(round_robin_->waiting(), 0u);
  char byte;
  EXPECT_EQ(recv(clients_[0].get(), &byte, 1, 0), 0);  // EOF
}

TEST_F(RoundRobinTest, NoWorkerServingConnectionsWaitThenGoToTheFirstReady) {
  AddWorker(1, /*serving=*/false);
  Connect(5);
  EXPECT_TRUE(handed_[1].empty());
  EXPECT_EQ(round_robin_->waiting(), 5u);
  round_robin_->SetServing(1, true);
  EXPECT_EQ(handed_[1].size(), static_cast<size_t>(RoundRobin::kMaxUnanswered));
  AnswerAll(1, true);
  EXPECT_EQ(handed_[1].size(), 5u);
  EXPECT_EQ(round_robin_->waiting(), 0u);
}

TEST_F(RoundRobinTest, PastTheBoundTendStopsAcceptingAndTheKernelHolds) {
  Connect(RoundRobin::kMaxWaiting + 100);
  EXPECT_EQ(round_robin_->waiting(), RoundRobin::kMaxWaiting);
  AddWorker(1);  // takes some: accepting resumes, and the rest come in
  for (int i = 0; i < 2000; ++i) {
    AnswerAll(1, true);
    Turn(1ms);
    if (round_robin_->waiting() == 0) break;
  }
  EXPECT_EQ(round_robin_->waiting(), 0u);
}

}  // namespace
}  // namespace tend::cluster
