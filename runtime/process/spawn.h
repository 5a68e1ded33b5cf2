#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tend::process {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::string> env;   // the whole environment, NAME=value
  // Put the child in a process group of its own, so that a whole group can be signalled.
  bool own_process_group = true;
  // When stdin is a terminal, make the child's group the terminal's foreground group, so
  // that Ctrl-C reaches it rather than tend. Only `tend -- CMD` hands its terminal over:
  // supervised workers never take it, and Ctrl-C stops tend, which stops them all.
  bool take_terminal = false;
  // Descriptors the child gets as fd 3, 4, ... in this order (Node's IPC channel, sockets).
  std::vector<int> pass_fds;
  // The child's stdout and stderr; -1 keeps tend's own.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Working directory; empty keeps tend's.
  std::string cwd;
  // Adds LISTEN_PID=<the child's own pid> to the environment, which only the child knows:
  // systemd's socket activation marks the passed sockets as meant for that very process.
  bool listen_pid = false;
  // Switch to this user and group, with no supplementary groups, before exec; unset: stay.
  struct RunAs {
    uid_t uid;
    gid_t gid;
  };
  std::optional<RunAs> run_as;
};

// Forks and execs. Exec failures are reported here, not as a child exit, with the codes of
// errors::FromErrno: NotFound when the command does not exist (a shell's 127), and
// ResourceExhausted when the system is short of processes, memory or descriptors, which
// may pass (errors::IsTransient); any other cannot be executed (126). The failed child is
// reaped before returning.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// The exit code a shell uses for a Spawn error: 127 for NotFound, otherwise 126.
int ExitCodeForSpawnError(const absl::Status& status);

}  // namespace tend::process
