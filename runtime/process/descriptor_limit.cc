#include "runtime/process/descriptor_limit.h"

namespace tend::process {
namespace {

rlimit inherited;
bool raised = false;

}  // namespace

bool RaiseDescriptorLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur == limit.rlim_max) return true;  // nothing to raise, nothing to give back
  inherited = limit;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  raised = true;
  return true;
}

const rlimit* InheritedDescriptorLimit() { return raised ? &inherited : nullptr; }

}  // namespace tend::process
