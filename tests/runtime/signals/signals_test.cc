#include "runtime/signals/signals.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace tend::signals {
namespace {

TEST(ParseSignalTest, AcceptsNamesWithOrWithoutPrefixInAnyCase) {
  EXPECT_EQ(ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("sigwinch"), SIGWINCH);
  EXPECT_EQ(ParseSignal("usr2"), SIGUSR2);
}

TEST(ParseSignalTest, AcceptsNumbersAndRealtimeOffsets) {
  EXPECT_EQ(ParseSignal("15"), 15);
  EXPECT_EQ(ParseSignal("RTMIN"), SIGRTMIN);
  EXPECT_EQ(ParseSignal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(ParseSignal("RTMAX-1"), SIGRTMAX - 1);
}

TEST(ParseSignalTest, ZeroOnlyWhereAllowed) {
  EXPECT_EQ(ParseSignal("0"), std::nullopt);
  EXPECT_EQ(ParseSignal("0", /*allow_zero=*/true), 0);
}

TEST(ParseSignalTest, RejectsWhatNamesNoSignal) {
  for (const char* bad : {"", "FOO", "SIG", "-1", "65", "99999999999", "RTMIN+99", "15x", "TERM ",
                          "RTMIN+", "RTMAX+1"}) {
    EXPECT_EQ(ParseSignal(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(SignalNameTest, NamesKnownAndRealtimeSignals) {
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(SignalName(SIGRTMIN + 2), "SIGRTMIN+2");
  EXPECT_EQ(SignalName(0), "signal 0");
}

TEST(HandledSignalsTest, TakesCatchableSignalsButNotFaults) {
  const sigset_t& handled = HandledSignals();
  for (int signo : {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH, SIGCONT, SIGCHLD,
                    SIGTSTP, SIGPIPE, SIGRTMIN, SIGRTMAX}) {
    EXPECT_TRUE(sigismember(&handled, signo)) << SignalName(signo);
  }
  for (int signo : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) {
    EXPECT_FALSE(sigismember(&handled, signo)) << SignalName(signo);
  }
}

TEST(SignalChannelTest, DeliversSignalsWithTheirSender) {
  auto channel = SignalChannel::Open();
  ASSERT_TRUE(channel.ok()) << channel.status();
  pid_t self = getpid();
  pid_t sender = fork();
  if (sender == 0) {
    kill(self, SIGUSR1);
    _exit(0);
  }
  waitpid(sender, nullptr, 0);
  std::vector<SignalChannel::Received> received;
  for (int tries = 0; tries < 1000 && received.size() < 2; ++tries) {
    for (const auto& r : (*channel)->Drain()) received.push_back(r);
    if (received.size() < 2) usleep(1000);
  }
  // SIGUSR1 from the sender, and SIGCHLD for its exit, in some order.
  bool saw_usr1 = false;
  for (const auto& r : received) {
    if (r.signo == SIGUSR1) {
      saw_usr1 = true;
      EXPECT_EQ(r.sender, sender);
    }
  }
  EXPECT_TRUE(saw_usr1);
}

TEST(IgnoredSignals, ParsesTheSigIgnLine) {
  EXPECT_EQ(ParseIgnoredSignals("Name:\tx\nSigBlk:\t0000000000000001\nSigIgn:\t0000000180000002\n"),
            SignalMask{0x180000002});
  // Unreadable: every signal, so that the child is reset in full.
  EXPECT_EQ(ParseIgnoredSignals("Name:\tx\n"), kEverySignal);
  EXPECT_EQ(ParseIgnoredSignals("x\nSigIgn:\t00001"), kEverySignal);
  EXPECT_EQ(ParseIgnoredSignals("x\nSigIgn:\t000000000000000g\n"), kEverySignal);
}

TEST(IgnoredSignals, AreWhatThisProcessIgnores) {
  signal(SIGUSR2, SIG_IGN);
  SignalMask ignored = IgnoredSignals();
  signal(SIGUSR2, SIG_DFL);
  EXPECT_TRUE(ignored >> (SIGUSR2 - 1) & 1);
  EXPECT_FALSE(ignored >> (SIGUSR1 - 1) & 1);
  EXPECT_FALSE(IgnoredSignals() >> (SIGUSR2 - 1) & 1);
}

}  // namespace
}  // namespace tend::signals
