// Exit codes, reaping and the descendant tree, on real processes.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "gtest/gtest.h"
#include "runtime/init/descendants.h"
#include "runtime/init/exit_status.h"
#include "runtime/init/reaper.h"

namespace tend::init {
namespace {

int WaitStatusOf(void (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  return status;
}

TEST(ExitStatusTest, ExitCodesPassThrough) {
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { _exit(0); })), 0);
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { _exit(3); })), 3);
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { _exit(255); })), 255);
}

TEST(ExitStatusTest, DeathBySignalIs128PlusTheSignal) {
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { raise(SIGTERM); })), 143);
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { raise(SIGKILL); })), 137);
  EXPECT_EQ(ExitCodeOf(WaitStatusOf([] { raise(SIGINT); })), 130);
}

TEST(ExitStatusTest, RemapChangesOnlyMappedCodes) {
  std::map<int, int> remap = {{143, 0}, {1, 7}};
  EXPECT_EQ(RemapExitCode(143, remap), 0);
  EXPECT_EQ(RemapExitCode(1, remap), 7);
  EXPECT_EQ(RemapExitCode(2, remap), 2);
}

TEST(ReaperTest, ReapsEveryExitedChildWithoutBlocking) {
  std::vector<pid_t> children;
  for (int code = 0; code < 5; ++code) {
    pid_t pid = fork();
    if (pid == 0) _exit(code);
    children.push_back(pid);
  }
  std::map<pid_t, int> reaped;
  for (int tries = 0; tries < 2000 && reaped.size() < children.size(); ++tries) {
    for (const ExitedChild& exited : ReapExited())
      reaped[exited.pid] = ExitCodeOf(exited.wait_status);
    usleep(1000);
  }
  ASSERT_EQ(reaped.size(), children.size());
  for (int code = 0; code < 5; ++code) EXPECT_EQ(reaped[children[code]], code);
  EXPECT_TRUE(ReapExited().empty());
}

TEST(ReaperTest, BecomesSubreaperWhenNotPid1) {
  std::string why;
  ASSERT_EQ(TakeReaperRole(&why), ReaperRole::kSubreaper) << why;
  int is_subreaper = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &is_subreaper);
  EXPECT_EQ(is_subreaper, 1);
}

TEST(DescendantsTest, FindsGrandchildrenAndIgnoresZombies) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      pause();
      _exit(0);
    }
    pid_t zombie = fork();
    if (zombie == 0) _exit(0);
    [[maybe_unused]] ssize_t n = write(ready[1], &grandchild, sizeof grandchild);
    n = write(ready[1], &zombie, sizeof zombie);
    pause();
    _exit(0);
  }
  pid_t grandchild, zombie;
  ASSERT_EQ(read(ready[0], &grandchild, sizeof grandchild), sizeof grandchild);
  ASSERT_EQ(read(ready[0], &zombie, sizeof zombie), sizeof zombie);
  // Until the zombie is a zombie, it is a live descendant.
  std::vector<pid_t> found;
  for (int tries = 0; tries < 2000; ++tries) {
    found = ListDescendants(getpid());
    if (std::find(found.begin(), found.end(), zombie) == found.end()) break;
    usleep(1000);
  }
  EXPECT_NE(std::find(found.begin(), found.end(), child), found.end());
  EXPECT_NE(std::find(found.begin(), found.end(), grandchild), found.end());
  EXPECT_EQ(std::find(found.begin(), found.end(), zombie), found.end());

  kill(grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace tend::init
