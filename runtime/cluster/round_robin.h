#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"
#include "runtime/net/acceptor.h"

namespace tend::cluster {

// tend as Node's round-robin primary for one listening socket (what Node's own primary does
// in lib/internal/cluster/round_robin_handle.js): tend accepts each connection and hands it
// to a worker in a "newconn" message; the worker answers whether it took it.
//
// The worker chosen is a serving one (ready, not draining) with the fewest connections
// handed and not yet answered, in turn among equals. A connection a worker refuses goes to
// another; one refused kMaxRefusals times is closed, so workers that refuse everything (a
// hostile one, or the last one left shutting down) cannot keep tend handing it round. One that no
// worker can take now (none serving: a crash, a reload's gap) waits in tend, up to kMaxWaiting;
// past that tend stops accepting, and the kernel's backlog holds the rest: no connection is refused
// or dropped for want of a worker.
class RoundRobin {
 public:
  static constexpr size_t kMaxWaiting = 1024;
  // A worker's handed, unanswered connections (its IPC channel queues at most 8).
  static constexpr int kMaxUnanswered = 4;
  static constexpr int kMaxRefusals = 4;

  // Queues a newconn for the worker, with `connection` (duplicated): the seq it will answer
  // to, or -1 when it cannot take one now (its channel is full).
  using Send = std::function<int(int connection)>;

  // Accepts on `listening` from the loop.
  static absl::StatusOr<std::unique_ptr<RoundRobin>> Start(loop::EventLoop& loop,
                                                           UniqueFd listening);
  int fd() const { return acceptor_->fd(); }

  // A worker that listens on the socket; it gets connections once serving.
  void Add(int worker_id, Send send);
  // The worker is gone or closed its server: what it was handed and did not answer is
  // closed (it may have taken it: that cannot be told).
  void Remove(int worker_id);
  void SetServing(int worker_id, bool serving);
  // The worker's answer to the newconn `seq`. False: no such connection was handed to it.
  bool Answered(int worker_id, int seq, bool accepted);

  bool empty() const { return workers_.empty(); }
  size_t waiting() const { return waiting_.size(); }

 private:
  struct Connection {
    UniqueFd fd;
    int refusals = 0;
  };
  struct Worker {
    Send send;
    bool serving = false;
    bool full = false;                     // its channel took no more: until it answers one
    std::map<int, Connection> unanswered;  // by seq
  };
  RoundRobin() = default;
  void OnConnection(UniqueFd connection);
  // Hands waiting connections to workers while some can take them.
  void Distribute();
  Worker* Choose();

  std::unique_ptr<net::Acceptor> acceptor_;
  std::map<int, Worker> workers_;  // by worker id
  int last_chosen_ = -1;           // for turns among equals
  std::deque<Connection> waiting_;
  bool accepting_ = true;
};

}  // namespace tend::cluster
