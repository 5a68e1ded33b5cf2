#pragma once

#include <sys/types.h>

#include "absl/status/status.h"

namespace tend::init {

// What tend was started to run: a command, or the supervised apps. The init owns signals,
// reaping and the stop deadline; a workload owns its own processes and decides what a
// signal means to them.
class Workload {
 public:
  virtual ~Workload() = default;

  // Starts the processes. An error here ends tend at once with ExitCode().
  virtual absl::Status Start() = 0;
  // A signal to pass on (already rewritten); not a stop request.
  virtual void Forward(int signo) = 0;
  // Stop gracefully, beginning with `signo` (already rewritten).
  virtual void Stop(int signo) = 0;
  // The stop deadline passed: SIGKILL whatever of the workload is left.
  virtual void Kill() = 0;
  // A child of tend terminated. Returns false when it was not one of the workload's (an
  // orphan that tend merely reaped).
  virtual bool OnExit(pid_t pid, int wait_status) = 0;
  // Whether `pid` is one of the processes the workload started and still tracks.
  virtual bool Owns(pid_t pid) const = 0;
  // Whether what each of its processes leaves behind when it exits (the rest of its
  // process group, orphans handed to tend) is ended at once, while the workload runs on.
  // A supervisor restarting workers wants that; a single command's leftovers wait for rule
  // 5, as under tini.
  virtual bool EndsLeftoversOfEachExit() const { return false; }
  // Nothing of the workload runs any more and nothing will be started again.
  virtual bool Finished() const = 0;
  // tend's exit code once Finished() (or after Start() failed).
  virtual int ExitCode() const = 0;
};

}  // namespace tend::init
