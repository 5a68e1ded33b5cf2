#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace tend::cluster {

// The listening sockets tend holds for its workers, one per address the app listens on.
// Each worker accepts on the same socket; tend's copy keeps it (and its accept queue) open
// while workers come and go, so a restart or reload never refuses a connection.
class SharedSockets {
 public:
  struct Listening {
    int fd;          // -1 on failure
    int uv_errno;    // 0, or what Node expects on failure: minus the errno
    std::string key;
  };

  SharedSockets() = default;
  SharedSockets(const SharedSockets&) = delete;
  SharedSockets& operator=(const SharedSockets&) = delete;
  ~SharedSockets();

  // The socket for `address` (empty: any address, IPv6 dual-stack where possible, as Node
  // does), `port` (0: a free one) and `address_type` (4 or 6), made and bound on first use.
  // `index` counts a worker's listens on the same address, as in Node's key: the first
  // server of every worker shares one socket, a second server gets its own.
  Listening Listen(const std::string& address, int port, int address_type, int index,
                   int backlog);
  // The socket handed to non-Node workers by socket activation (--listen), made and bound
  // on first use.
  absl::StatusOr<int> ListenForActivation(const std::string& address, int port);

 private:
  std::map<std::string, int> sockets_;  // key -> fd
};

// "host:port" (IPv6 as "[host]:port") of a bound socket, for logs.
std::string LocalAddressOf(int fd);

}  // namespace tend::cluster
