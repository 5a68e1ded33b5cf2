#include "runtime/init/reaper.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/errors/errno_status.h"

namespace tend::init {

std::vector<ExitedChild> ReapExited() {
  std::vector<ExitedChild> exited;
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) exited.push_back({pid, status});
  return exited;
}

ReaperRole TakeReaperRole(std::string* why_none) {
  if (getpid() == 1) return ReaperRole::kPid1;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) return ReaperRole::kSubreaper;
  *why_none = std::string(errors::FromErrno("prctl(PR_SET_CHILD_SUBREAPER)").message());
  return ReaperRole::kNone;
}

}  // namespace tend::init
