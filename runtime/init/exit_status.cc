#include "runtime/init/exit_status.h"

#include <sys/wait.h>

namespace tend::init {

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;  // stopped or continued: not a termination, never passed here by the reaper
}

int RemapExitCode(int code, const std::map<int, int>& remap) {
  auto it = remap.find(code);
  return it == remap.end() ? code : it->second;
}

}  // namespace tend::init
