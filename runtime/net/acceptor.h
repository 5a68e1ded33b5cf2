#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::net {

// Accepts connections on a listening socket from tend's event loop. When descriptors run
// out (EMFILE, ENFILE) the pending connection stays queued and the socket stays readable:
// rather than spin on it, the acceptor stops watching it for a moment and tries again.
class Acceptor {
 public:
  using Admit = std::function<void(UniqueFd connection, const sockaddr_storage& peer)>;
  // Called when descriptors ran out; returns true when it freed one (accept again now).
  using OnExhausted = std::function<bool()>;

  static absl::StatusOr<std::unique_ptr<Acceptor>> Start(loop::EventLoop& loop, UniqueFd listener,
                                                         Admit admit,
                                                         OnExhausted on_exhausted = nullptr);
  ~Acceptor();

  int fd() const { return listener_.get(); }
  // Stops accepting (connections wait in the kernel's backlog), or starts again.
  void SetAccepting(bool accepting);
  // One accept, for a caller that freed a descriptor for it; false when none was pending.
  bool AcceptOne();

 private:
  Acceptor(loop::EventLoop& loop, UniqueFd listener, Admit admit, OnExhausted on_exhausted);
  void OnAcceptable();
  void Pause();

  loop::EventLoop& loop_;
  const UniqueFd listener_;
  Admit admit_;
  OnExhausted on_exhausted_;
  std::unique_ptr<loop::Timer> pause_;
  bool accepting_ = true;
};

}  // namespace tend::net
