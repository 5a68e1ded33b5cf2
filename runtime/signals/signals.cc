#include "runtime/signals/signals.h"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/errors/errno_status.h"

namespace tend::signals {
namespace {

struct NamedSignal {
  const char* name;
  int signo;
};

constexpr NamedSignal kNames[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// A signal a fault in the receiving process raises; blocking these makes a fault fatal in
// an undefined way, so tend leaves them alone.
bool IsFaultSignal(int signo) {
  switch (signo) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
    case SIGABRT:
      return true;
    default:
      return false;
  }
}

std::optional<int> ParseRealtime(absl::string_view name) {
  int base;
  if (absl::ConsumePrefix(&name, "RTMIN")) {
    base = SIGRTMIN;
  } else if (absl::ConsumePrefix(&name, "RTMAX")) {
    base = SIGRTMAX;
  } else {
    return std::nullopt;
  }
  int offset = 0;
  if (!name.empty()) {
    bool plus = name[0] == '+';
    if (!plus && name[0] != '-') return std::nullopt;
    name.remove_prefix(1);
    if (!absl::SimpleAtoi(name, &offset) || offset < 0) return std::nullopt;
    if (!plus) offset = -offset;
  }
  int signo = base + offset;
  if (signo < SIGRTMIN || signo > SIGRTMAX) return std::nullopt;
  return signo;
}

}  // namespace

std::optional<int> ParseSignal(absl::string_view text, bool allow_zero) {
  int number;
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) &&
      absl::SimpleAtoi(text, &number)) {
    if (number == 0 && allow_zero) return 0;
    if (number >= 1 && number <= SIGRTMAX) return number;
    return std::nullopt;
  }
  std::string name = absl::AsciiStrToUpper(text);
  absl::string_view bare = name;
  absl::ConsumePrefix(&bare, "SIG");
  for (const NamedSignal& named : kNames) {
    if (bare == named.name) return named.signo;
  }
  return ParseRealtime(bare);
}

std::string SignalName(int signo) {
  for (const NamedSignal& named : kNames) {
    if (named.signo == signo) return absl::StrCat("SIG", named.name);
  }
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) {
    return signo == SIGRTMIN ? "SIGRTMIN" : absl::StrCat("SIGRTMIN+", signo - SIGRTMIN);
  }
  return absl::StrCat("signal ", signo);
}

const sigset_t& HandledSignals() {
  static const sigset_t handled = [] {
    sigset_t set;
    sigemptyset(&set);
    for (int signo = 1; signo <= SIGRTMAX; ++signo) {
      if (signo == SIGKILL || signo == SIGSTOP || IsFaultSignal(signo)) continue;
      if (signo == SIGTTIN || signo == SIGTTOU) continue;  // ignored: see Open()
      // glibc keeps the first realtime signals for its own threads.
      if (signo > SIGSYS && signo < SIGRTMIN) continue;
      sigaddset(&set, signo);
    }
    return set;
  }();
  return handled;
}

absl::Status BlockHandledSignals() {
  // As tini: tend's own terminal I/O from a background process group (workers never take
  // the foreground, but `tend -- CMD` hands it to CMD) must never stop PID 1, and these
  // are no requests to pass on.
  for (int signo : {SIGTTIN, SIGTTOU}) {
    if (signal(signo, SIG_IGN) == SIG_ERR) {
      return errors::FromErrno(absl::StrCat("signal(", SignalName(signo), ")"));
    }
  }
  if (sigprocmask(SIG_BLOCK, &HandledSignals(), nullptr) != 0) {
    return errors::FromErrno("sigprocmask");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SignalChannel>> SignalChannel::Open() {
  if (absl::Status blocked = BlockHandledSignals(); !blocked.ok()) return blocked;
  UniqueFd fd(signalfd(-1, &HandledSignals(), SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) return errors::FromErrno("signalfd");
  return std::unique_ptr<SignalChannel>(new SignalChannel(std::move(fd)));
}

std::vector<SignalChannel::Received> SignalChannel::Drain() {
  std::vector<Received> received;
  signalfd_siginfo info;
  while (read(fd_.get(), &info, sizeof info) == sizeof info) {
    received.push_back({static_cast<int>(info.ssi_signo), static_cast<pid_t>(info.ssi_pid)});
  }
  return received;
}

SignalMask ParseIgnoredSignals(absl::string_view status) {
  constexpr absl::string_view kField = "\nSigIgn:\t";
  size_t at = status.find(kField);
  if (at == absl::string_view::npos) return kEverySignal;
  absl::string_view digits = status.substr(at + kField.size(), 16);
  SignalMask mask = 0;
  if (digits.size() != 16 || !absl::SimpleHexAtoi(digits, &mask)) return kEverySignal;
  return mask;
}

SignalMask IgnoredSignals() {
  UniqueFd fd(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  if (!fd) return kEverySignal;
  // SigIgn comes within the first 2 KiB; a short read leaves it out and resets all.
  char status[4096];
  ssize_t got;
  do {
    got = read(fd.get(), status, sizeof status);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return kEverySignal;
  return ParseIgnoredSignals(absl::string_view(status, static_cast<size_t>(got)));
}

void ResetSignalsForExec(SignalMask ignored) {
  // The raw system call: glibc's sigaction() refuses the two realtime signals it reserves,
  // and a launcher may have left those ignored too.
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } dfl{SIG_DFL, 0, nullptr, 0};
  for (int signo = 1; signo <= SIGRTMAX && signo <= 64; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP || !(ignored >> (signo - 1) & 1)) continue;
    syscall(SYS_rt_sigaction, signo, &dfl, nullptr, sizeof dfl.mask);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace tend::signals
