#pragma once

#include <functional>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/cluster/app_metrics.h"
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
    kOnline,      // Node started the worker (before user code)
    kListening,   // a server of the worker listens
    kReady,       // the app sent process.send('ready')
    kDrained,     // tend's preload finished draining: no server, no connection left
    kPreloaded,   // tend's preload runs in the worker: it will answer a drain request
    kAppMetrics,  // the preload's answer to RequestAppMetrics() is complete: TakeAppMetrics()
  };

  // What one worker's answer may hold at most, as prom_client::RegistryReader counts what it
  // keeps: past it the answer is too large, and the rest is read but never kept.
  static constexpr size_t kMaxAppMetricsBytes = 8 << 20;

  // `wake`: tend queued a message on the channel outside the worker's own turn (a
  // connection handed to it): the worker's owner arranges for it to be written soon. It must
  // not write (or close the channel) from inside the call.
  WorkerSession(IpcChannel& channel, SharedSockets& sockets, SharedSockets::Holder holder,
                std::function<void()> wake)
      : channel_(channel), sockets_(sockets), holder_(std::move(holder)), wake_(std::move(wake)) {}
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
  // Asks the preload for the app's prom-client metrics, of at most `max_bytes` (up to
  // kMaxAppMetricsBytes); kAppMetrics says the answer is complete. A new request abandons the
  // one before (its late pieces are ignored).
  void RequestAppMetrics(size_t max_bytes = kMaxAppMetricsBytes);
  AppMetricsAnswer TakeAppMetrics() { return std::move(metrics_); }
  // Round-robin: whether the worker may be handed connections now.
  void SetServing(bool serving) { sockets_.SetServing(holder_.worker_id, serving); }

  // The seq after `seq`: it wraps within an int, since past INT_MAX it would turn negative,
  // which means a failed handover, and every worker would look full for good.
  static constexpr int SeqAfter(int seq) {
    return seq == std::numeric_limits<int>::max() ? 0 : seq + 1;
  }

 private:
  void Reply(int ack, int uv_errno, const std::string& key);
  // Round-robin: queues a newconn with `connection`; its seq, or -1.
  int HandOver(const std::string& key, int connection);
  absl::StatusOr<Event> OnAppMetrics(const std::string& line);

  IpcChannel& channel_;
  SharedSockets& sockets_;
  const SharedSockets::Holder holder_;
  std::function<void()> wake_;
  int NextSeq();
  int seq_ = 0;                   // the next message's seq: 0 to INT_MAX, then 0 again
  int64_t metrics_asked_ = 0;     // the id of the latest request; 0: none yet
  bool metrics_pending_ = false;  // its answer is not complete yet
  size_t metrics_max_bytes_ = kMaxAppMetricsBytes;
  AppMetricsAnswer metrics_;
};

}  // namespace tend::cluster
