// The init's rule 8 on real processes: when the event loop itself fails, tend stops what it
// runs and exits 1, never returning quietly with its processes alive.
#include "runtime/init/init.h"

#include <signal.h>
#include <sys/wait.h>

#include "gtest/gtest.h"
#include "runtime/init/exit_status.h"
#include "runtime/init/reaper.h"
#include "runtime/process/spawn.h"
#include "tests/testing/faults.h"

namespace tend::init {
namespace {

// One `sleep`, stopped by the signal it is given.
class Sleeper : public Workload {
 public:
  absl::Status Start() override {
    absl::StatusOr<pid_t> pid = process::Spawn({{"sleep", "600"}, {"PATH=/usr/bin:/bin"}});
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    return absl::OkStatus();
  }
  void Forward(int signo) override { kill(pid_, signo); }
  void Stop(int signo) override { kill(pid_, signo); }
  void Kill() override { kill(pid_, SIGKILL); }
  bool OnExit(pid_t pid, int wait_status) override {
    if (pid != pid_) return false;
    exit_code_ = ExitCodeOf(wait_status);
    pid_ = 0;
    return true;
  }
  bool Owns(pid_t pid) const override { return pid_ != 0 && pid == pid_; }
  bool Finished() const override { return pid_ == 0; }
  int ExitCode() const override { return exit_code_; }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  int exit_code_ = 0;
};

TEST(InitTest, AFailedEventLoopStopsEveryProcessAndExitsOne) {
  auto signals = signals::SignalChannel::Open();
  ASSERT_TRUE(signals.ok());
  auto loop = loop::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  std::string why;
  std::unique_ptr<Descendants> descendants = DescendantsFor(TakeReaperRole(&why));
  v1::InitOptions options;
  options.set_kill_timeout_ms(5000);
  Init init(options, **loop, **signals, *descendants);
  ASSERT_TRUE(testing::BreakTheEpollInstance());

  Sleeper sleeper;
  EXPECT_EQ(init.Run(sleeper), 1);
  // The sleep was ended by SIGTERM (not left running, not killed at the deadline) and reaped.
  EXPECT_TRUE(sleeper.Finished());
  EXPECT_EQ(sleeper.ExitCode(), 128 + SIGTERM);
  EXPECT_FALSE(descendants->AnyLeft());
}

}  // namespace
}  // namespace tend::init
