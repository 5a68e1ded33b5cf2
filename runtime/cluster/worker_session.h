#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/cluster/ipc_channel.h"
#include "runtime/cluster/shared_sockets.h"

namespace tend::cluster {

// tend as Node's cluster primary, for one worker: answers the cluster messages the worker
// sends on its IPC channel and says what each means for supervising it. The wire format is
// internal to Node (lib/internal/cluster/child.js); tests pin it on the installed Node.
class WorkerSession {
 public:
  enum class Event {
    kNone,
    kOnline,     // Node started the worker (before user code)
    kListening,  // a server of the worker listens
    kReady,      // the app sent process.send('ready')
    kDrained,    // tend's preload finished draining: no server, no connection left
    kPreloaded,  // tend's preload runs in the worker: it will answer a drain request
  };

  WorkerSession(IpcChannel& channel, SharedSockets& sockets, SharedSockets::Holder holder)
      : channel_(channel), sockets_(sockets), holder_(std::move(holder)) {}
  // The worker is gone, or its channel is: it holds no shared socket any more.
  ~WorkerSession() { sockets_.ReleaseAll(holder_.worker_id); }
  WorkerSession(const WorkerSession&) = delete;
  WorkerSession& operator=(const WorkerSession&) = delete;

  // Handles one line from the worker. An error means the worker broke the protocol; the
  // session stays usable.
  absl::StatusOr<Event> Handle(const std::string& line);

  // Asks tend's preload in the worker to drain: stop accepting, end each keep-alive
  // connection after its next response, and report kDrained when nothing is left.
  void SendDrain();
  // Sends the message 'shutdown', as pm2's shutdown_with_message does.
  void SendShutdown();

 private:
  void Reply(int ack, int uv_errno, const std::string& key);

  IpcChannel& channel_;
  SharedSockets& sockets_;
  const SharedSockets::Holder holder_;
  int seq_ = 0;
};

}  // namespace tend::cluster
