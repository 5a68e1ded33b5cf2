#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/cluster/round_robin.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::cluster {

// The listening sockets tend holds for its workers, one per address the app listens on.
// Either tend accepts on it and hands each connection to a worker in turn (round-robin,
// Node's default), or each worker accepts on the same socket (shared). tend's copy keeps it
// (and its accept queue) open while workers come and go, so a restart or reload never
// refuses a connection.
//
// Workers are untrusted, so what they can make tend hold is bounded:
//  - a worker gets no socket it could not bind itself: a port below the kernel's
//    ip_unprivileged_port_start only for a worker running as root, or an app allowed to;
//  - each socket counts the workers holding it, and one that no worker holds any more is
//    closed after kReleaseGrace (which covers a crashed worker's restart);
//  - an app's workers make at most kMaxSocketsPerApp distinct sockets (those waiting out
//    their grace included).
class SharedSockets {
 public:
  static constexpr size_t kMaxSocketsPerApp = 64;
  static constexpr std::chrono::milliseconds kReleaseGrace{5000};

  // Who asks: a worker of an app.
  struct Holder {
    std::string app;
    int worker_id = 0;
    bool may_bind_privileged = false;  // runs as root, or its app is allowed to
    bool round_robin = true;           // takes connections from tend; false: accepts on the socket
  };
  // What a worker's queryServer asks for. An empty address is any address (IPv6
  // dual-stack where possible, as Node does); port 0 is a free one; `index` counts a
  // worker's listens on the same address, as in Node's key: the first server of every
  // worker shares one socket, a second server gets its own.
  struct Request {
    std::string address;
    int port = 0;
    int address_type = 4;  // 4 or 6
    int index = 0;
    int backlog = 0;
  };
  struct Listening {
    int fd;        // -1 on failure
    int uv_errno;  // 0, or what Node expects on failure: minus the errno
    std::string key;
  };

  explicit SharedSockets(loop::EventLoop& loop,
                         std::chrono::milliseconds release_grace = kReleaseGrace);
  SharedSockets(const SharedSockets&) = delete;
  SharedSockets& operator=(const SharedSockets&) = delete;

  // The socket for `request`, made and bound on first use, now held by `holder` too.
  Listening Acquire(const Holder& holder, const Request& request);
  // `worker_id` no longer holds the socket `key` (its server closed), or any (it is gone).
  void Release(int worker_id, const std::string& key);
  void ReleaseAll(int worker_id);

  // Round-robin (Node's default): the worker, holding socket `key`, takes its connections
  // from tend through `send` instead of accepting on the socket itself.
  absl::Status JoinRoundRobin(int worker_id, const std::string& key, RoundRobin::Send send);
  // Whether the worker may be handed connections now (ready, not draining).
  void SetServing(int worker_id, bool serving);
  // The worker's answer to newconn `seq`; false when it was handed no such connection.
  bool Answered(int worker_id, int seq, bool accepted);
  // The socket handed to non-Node workers by socket activation (--listen), made and bound
  // on first use and held for tend's life.
  absl::StatusOr<int> ListenForActivation(const std::string& address, int port);

  // Sockets open for workers (activation sockets included).
  size_t open_sockets() const { return sockets_.size(); }

 private:
  struct Shared {
    int fd() const { return round_robin ? round_robin->fd() : owned.get(); }
    UniqueFd owned;         // until a round-robin distributor takes it
    std::string app;        // whose worker made it: it counts against that app's cap
    std::set<int> holders;  // worker ids
    std::unique_ptr<loop::Timer> close_timer;
    std::unique_ptr<RoundRobin> round_robin;  // from the first round-robin worker on
  };
  size_t SocketsOfApp(const std::string& app) const;
  void OnUnheld(const std::string& key);

  loop::EventLoop& loop_;
  const std::chrono::milliseconds release_grace_;
  const int unprivileged_port_start_;
  std::map<std::string, Shared> sockets_;  // by Node's key, after the app's name
  std::set<int> serving_;                  // round-robin: workers that may take connections
};

}  // namespace tend::cluster
