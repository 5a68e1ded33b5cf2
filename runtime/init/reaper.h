#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tend::init {

struct ExitedChild {
  pid_t pid;
  int wait_status;  // as waitpid() gives it
};

// Collects every child that has terminated, without blocking: tend's own children and the
// orphans the kernel handed to it. Call it on every SIGCHLD (SIGCHLDs coalesce).
std::vector<ExitedChild> ReapExited();

// Why orphans come to tend.
enum class ReaperRole {
  kPid1,       // the kernel gives a PID namespace's orphans to its PID 1
  kSubreaper,  // PR_SET_CHILD_SUBREAPER: orphans below tend come to tend
  kNone,       // neither: orphans go elsewhere and tend cannot reap them
};

// Becomes a child subreaper unless already PID 1. `why_none` says why, for kNone.
ReaperRole TakeReaperRole(std::string* why_none);

}  // namespace tend::init
