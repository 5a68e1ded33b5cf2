#include "runtime/process/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/faults.h"

namespace tend::process {
namespace {

std::vector<std::string> Env() { return {"PATH=/usr/bin:/bin", "GREETING=hello"}; }

int WaitFor(pid_t pid) {
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SpawnTest, RunsCommandFromPathWithTheGivenEnvironment) {
  auto pid = Spawn({{"sh", "-c", "test \"$GREETING\" = hello && test -z \"$HOME\""}, Env()});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(WaitFor(*pid), 0);
}

// Every descriptor Spawn opens is closed on every path: a failure leaves none behind.
TEST(SpawnTest, NoDescriptorLeftIsAnErrorThatLeaksNothing) {
  absl::StatusOr<pid_t> pid;
  {
    testing::NoDescriptorsLeft exhausted;
    ASSERT_TRUE(exhausted.ok());
    pid = Spawn({{"true"}, Env()});
  }
  ASSERT_FALSE(pid.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(pid.status())) << pid.status();
  EXPECT_NE(pid.status().message().find("pipe: Too many open files"), std::string::npos);
  // And with descriptors back, it works again.
  auto again = Spawn({{"true"}, Env()});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(WaitFor(*again), 0);
}

// A script without "#!" with many arguments: execvpe runs it with /bin/sh and copies the
// argument vector onto the child's stack (160 KiB here), which the child's stack must hold.
TEST(SpawnTest, AScriptWithManyArgumentsRunsOnAStackLargeEnough) {
  std::string path = ::testing::TempDir() + "/no_shebang.sh";
  std::ofstream(path) << "exit $(($# % 256))\n";
  chmod(path.c_str(), 0755);
  std::vector<std::string> argv = {path};
  for (int i = 0; i < 20000; ++i) argv.push_back("a");
  auto pid = Spawn({argv, Env()});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(WaitFor(*pid), 20000 % 256);
}

TEST(SpawnTest, ChildLeadsItsOwnProcessGroup) {
  auto pid = Spawn({{"sleep", "5"}, Env(), /*own_process_group=*/true});
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(getpgid(*pid), *pid);
  kill(-*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);
}

// Sets a disposition with the raw system call, which also reaches the realtime signals that
// glibc reserves (32 and 33) and refuses to touch.
void RawDisposition(int signo, void (*handler)(int)) {
  struct {
    void (*handler)(int);
    unsigned long flags = 0;
    void (*restorer)() = nullptr;
    uint64_t mask = 0;
  } action{handler};
  ASSERT_EQ(syscall(SYS_rt_sigaction, signo, &action, nullptr, sizeof action.mask), 0);
}

TEST(SpawnTest, ChildStartsWithNothingBlockedOrIgnored) {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  signal(SIGINT, SIG_IGN);
  RawDisposition(33, SIG_IGN);
  RawDisposition(64, SIG_IGN);
  std::string out = std::string(getenv("TEST_TMPDIR")) + "/signal-state";
  int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // grep itself is the child, so the status it reads is the one Spawn gave it.
  SpawnOptions options{{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}, Env()};
  options.stdout_fd = out_fd;
  auto pid = Spawn(options);
  close(out_fd);
  sigprocmask(SIG_UNBLOCK, &block, nullptr);
  signal(SIGINT, SIG_DFL);
  RawDisposition(33, SIG_DFL);
  RawDisposition(64, SIG_DFL);
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(WaitFor(*pid), 0);
  std::ifstream state(out);
  std::string blocked, ignored;
  std::getline(state, blocked);
  std::getline(state, ignored);
  EXPECT_EQ(blocked, "SigBlk:\t0000000000000000");
  EXPECT_EQ(ignored, "SigIgn:\t0000000000000000");
}

TEST(SpawnTest, MissingCommandIsNotFoundAnd127) {
  auto pid = Spawn({{"/no/such/command"}, Env()});
  ASSERT_FALSE(pid.ok());
  EXPECT_TRUE(absl::IsNotFound(pid.status()));
  EXPECT_EQ(ExitCodeForSpawnError(pid.status()), 127);
  EXPECT_EQ(pid.status().message(), "cannot execute '/no/such/command': No such file or directory");
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "the failed child was left unreaped";
}

TEST(SpawnTest, NonExecutableFileIs126) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/not-executable";
  std::ofstream(path) << "#!/bin/sh\n";
  chmod(path.c_str(), 0644);
  auto pid = Spawn({{path}, Env()});
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(ExitCodeForSpawnError(pid.status()), 126);
}

TEST(SpawnTest, PassedDescriptorsArriveAsFd3AndUpInTheWorkingDirectory) {
  int first[2], second[2];
  ASSERT_EQ(pipe2(first, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(second, O_CLOEXEC), 0);
  SpawnOptions options{{"sh", "-c", "pwd >&3; echo two >&4"}, Env()};
  options.pass_fds = {second[1], first[1]};  // crossed on purpose
  options.cwd = "/usr";
  auto pid = Spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.status();
  close(first[1]);
  close(second[1]);
  ASSERT_EQ(WaitFor(*pid), 0);
  char buffer[64] = {};
  EXPECT_EQ(std::string(buffer, read(second[0], buffer, sizeof buffer)), "/usr\n");
  EXPECT_EQ(std::string(buffer, read(first[0], buffer, sizeof buffer)), "two\n");
  close(first[0]);
  close(second[0]);
}

TEST(SpawnTest, EmptyCommandIsRejected) { EXPECT_FALSE(Spawn({{}, Env()}).ok()); }

}  // namespace
}  // namespace tend::process
