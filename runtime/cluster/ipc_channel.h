#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"

namespace tend::cluster {

// tend's end of a worker's Node IPC channel in json serialization: one JSON text a line, a
// file descriptor travelling by SCM_RIGHTS with the line that announces it. The worker is
// untrusted: lines and the outgoing queue are capped, and descriptors it sends are closed.
class IpcChannel {
 public:
  static constexpr size_t kMaxMessageBytes = 64 * 1024;
  static constexpr size_t kMaxQueuedBytes = 256 * 1024;
  // Each queued descriptor is a duplicate tend holds until the worker acknowledges the one
  // before it: a worker that asks without acknowledging must not run tend out of them.
  static constexpr size_t kMaxQueuedFds = 8;

  // A connected socketpair; give child_end() to the worker, then CloseChildEnd().
  static absl::StatusOr<std::unique_ptr<IpcChannel>> Create();
  int fd() const { return fd_.get(); }
  int child_end() const { return child_end_.get(); }
  void CloseChildEnd() { child_end_.reset(); }

  enum class ReadStatus { kOpen, kClosed, kOversized };
  // Reads what has arrived; complete lines are appended to `messages` and descriptors that
  // came with them are closed and counted in `stray_fds`.
  ReadStatus Read(std::vector<std::string>* messages, int* stray_fds);

  // Queues `message` (without its newline), with a duplicate of `pass_fd` unless it is -1.
  // Like Node, a line carrying a descriptor holds back everything after it until
  // HandleAcknowledged(). False when the queue is full (the worker does not read, or holds
  // kMaxQueuedFds unacknowledged descriptors) or the descriptor cannot be duplicated
  // (descriptors ran out): nothing is queued then.
  bool Send(const std::string& message, int pass_fd = -1);
  void HandleAcknowledged();
  // Writes what the socket takes; true when nothing is left to write now.
  bool Flush();

 private:
  struct Outgoing {
    std::string bytes;
    UniqueFd fd;  // none: no descriptor travels with the line
    size_t sent;  // bytes of `bytes` already written
  };
  IpcChannel(UniqueFd fd, UniqueFd child_end)
      : fd_(std::move(fd)), child_end_(std::move(child_end)) {}

  UniqueFd fd_;
  UniqueFd child_end_;
  std::string input_;
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;
  size_t queued_fds_ = 0;
  bool awaiting_ack_ = false;
};

}  // namespace tend::cluster
