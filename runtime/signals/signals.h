#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/fd/unique_fd.h"

namespace tend::signals {

// "TERM", "SIGTERM", "term", "15" and "RTMIN+2" all name a signal; nullopt if none does.
// Zero is accepted where `allow_zero` (a rewrite target that drops the signal).
std::optional<int> ParseSignal(absl::string_view text, bool allow_zero = false);

// "SIGTERM"; "SIGRTMIN+2"; "signal 99" for numbers with no name.
std::string SignalName(int signo);

// The signals tend takes over: every one a process can catch, except those the kernel raises
// for a fault in tend itself (SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT), which must stay deliverable.
const sigset_t& HandledSignals();

// Blocks the handled signals (and ignores SIGTTIN and SIGTTOU, as tini does). main calls it
// first thing, before the configuration is read (which may run node for seconds): as PID 1 a
// signal with no handler is discarded, so one that arrives then must wait, pending, for the
// signalfd. Threads started later inherit the mask.
absl::Status BlockHandledSignals();

// The handled signals, blocked and read from a signalfd instead.
class SignalChannel {
 public:
  struct Received {
    int signo;
    pid_t sender;  // 0 when the kernel sent it
  };

  static absl::StatusOr<std::unique_ptr<SignalChannel>> Open();
  ~SignalChannel() = default;

  int fd() const { return fd_.get(); }

  // Every signal pending now, in arrival order; never blocks.
  std::vector<Received> Drain();

 private:
  explicit SignalChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Signals 1 to 64 as bits (signal n is bit n - 1), as /proc shows them: unlike a sigset_t,
// this holds the realtime signals glibc reserves, which a launcher may have ignored too.
using SignalMask = uint64_t;
constexpr SignalMask kEverySignal = ~SignalMask{0};

// The signals this process ignores now: exec passes those on, where it resets those caught
// (tend catches none: it reads a signalfd). Read from /proc/self/status; every signal when
// that cannot be read, so that the child is reset in full.
SignalMask IgnoredSignals();
// The SigIgn line of a /proc/PID/status; kEverySignal when there is none readable.
SignalMask ParseIgnoredSignals(absl::string_view status);

// In a child between fork and exec: the dispositions in `ignored` (IgnoredSignals(), read
// before the fork) back to their default and nothing blocked, whatever tend itself inherited
// (a launcher may have blocked or ignored some), so the command always starts with a clean
// signal state. Async-signal-safe.
void ResetSignalsForExec(SignalMask ignored);

}  // namespace tend::signals
