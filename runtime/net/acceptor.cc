#include "runtime/net/acceptor.h"

#include <cerrno>

namespace tend::net {
namespace {

// A burst of connections is taken a bounded number at a time, so other events get a turn.
constexpr int kAcceptsPerWakeup = 64;
// How long accepting pauses when descriptors (or kernel memory) ran out.
constexpr std::chrono::milliseconds kPause{100};

}  // namespace

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Start(loop::EventLoop& loop, UniqueFd listener,
                                                          Admit admit, OnExhausted on_exhausted) {
  std::unique_ptr<Acceptor> acceptor(
      new Acceptor(loop, std::move(listener), std::move(admit), std::move(on_exhausted)));
  Acceptor* raw = acceptor.get();
  if (absl::Status watched = loop.Watch(raw->fd(), [raw] { raw->OnAcceptable(); }); !watched.ok()) {
    return watched;
  }
  return acceptor;
}

Acceptor::Acceptor(loop::EventLoop& loop, UniqueFd listener, Admit admit, OnExhausted on_exhausted)
    : loop_(loop),
      listener_(std::move(listener)),
      admit_(std::move(admit)),
      on_exhausted_(std::move(on_exhausted)) {}

Acceptor::~Acceptor() { loop_.Unwatch(listener_.get()); }

bool Acceptor::AcceptOne() {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  UniqueFd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                      SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd) return false;
  admit_(std::move(fd), peer);
  return true;
}

void Acceptor::OnAcceptable() {
  for (int accepted = 0; accepted < kAcceptsPerWakeup && accepting_; ++accepted) {
    if (AcceptOne()) continue;
    int error = errno;
    if (error == EINTR || error == ECONNABORTED) continue;
    bool exhausted = error == EMFILE || error == ENFILE;
    if (exhausted && on_exhausted_ && on_exhausted_()) continue;
    if (exhausted || error == ENOBUFS || error == ENOMEM) Pause();
    return;  // EAGAIN: nothing more waits
  }
}

void Acceptor::Pause() {
  loop_.Unwatch(listener_.get());
  pause_ = loop_.After(kPause, [this] {
    pause_.reset();
    if (accepting_ && !loop_.Watch(listener_.get(), [this] { OnAcceptable(); }).ok()) Pause();
  });
}

void Acceptor::SetAccepting(bool accepting) {
  if (accepting == accepting_) return;
  accepting_ = accepting;
  if (!accepting) {
    loop_.Unwatch(listener_.get());
  } else if (!pause_ && !loop_.Watch(listener_.get(), [this] { OnAcceptable(); }).ok()) {
    Pause();  // tried again shortly
  }
}

}  // namespace tend::net
