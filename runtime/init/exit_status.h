#pragma once

#include <map>

namespace tend::init {

// The shell's convention, which Docker and Kubernetes report: the exit code of a process
// that exited, 128+N for one that died of signal N.
int ExitCodeOf(int wait_status);

// tend's own exit code: `code`, or what `remap` (like tini's -e) turns it into.
int RemapExitCode(int code, const std::map<int, int>& remap);

}  // namespace tend::init
