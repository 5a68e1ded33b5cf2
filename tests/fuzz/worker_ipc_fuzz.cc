// The worker's IPC channel as a hostile worker drives it: arbitrary bytes on the socket,
// framed into lines by IpcChannel and handled by WorkerSession, tend's cluster primary.
// Runs in a network namespace of its own where it can, so that a queryServer the input
// makes up binds nothing the machine's other programs use.
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/cluster/ipc_channel.h"
#include "runtime/cluster/shared_sockets.h"
#include "runtime/cluster/worker_session.h"
#include "runtime/loop/event_loop.h"

using tend::cluster::IpcChannel;
using tend::cluster::SharedSockets;
using tend::cluster::WorkerSession;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // As root (make test): a private loopback. Otherwise the ports the input names are bound
  // on the host, and closed again before the next input.
  static const bool isolated = unshare(CLONE_NEWNET) == 0;
  (void)isolated;
  static auto loop = std::move(*tend::loop::EventLoop::Create());
  SharedSockets sockets(*loop, std::chrono::milliseconds(0));
  auto channel = std::move(*IpcChannel::Create());
  int worker = channel->child_end();
  {
    WorkerSession session(*channel, sockets, {"app", 1, false}, [] {});
    session.RequestAppMetrics(64 << 10);  // so that an answer's pieces are read, not ignored
    // The input goes in pieces, as a socket delivers it: split at its first byte's value.
    size_t piece = size > 0 ? 1 + data[0] % 64 : 1;
    for (size_t at = 0; at < size; at += piece) {
      size_t n = std::min(piece, size - at);
      if (write(worker, data + at, n) != static_cast<ssize_t>(n)) break;
      std::vector<std::string> messages;
      int stray = 0;
      IpcChannel::ReadStatus status = channel->Read(&messages, &stray);
      for (const std::string& message : messages) (void)session.Handle(message);
      channel->Flush();
      char drain[65536];
      while (recv(worker, drain, sizeof drain, MSG_DONTWAIT) > 0) {
      }
      if (status != IpcChannel::ReadStatus::kOpen) break;
    }
  }
  return 0;
}
