#include "runtime/process/spawn.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/init/signals.h"

namespace tend::process {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// Between fork and exec only async-signal-safe calls: the parent may have other threads.
[[noreturn]] void ExecChild(const SpawnOptions& options, char* const* argv, char* const* envp,
                            int error_pipe) {
  if (options.own_process_group) {
    setpgid(0, 0);
    // Ignore failure: stdin is often not a terminal, or not tend's.
    if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpgrp());
  }
  init::ResetSignalsForExec();
  execvpe(argv[0], argv, envp);
  int error = errno;
  [[maybe_unused]] ssize_t written = write(error_pipe, &error, sizeof error);
  _exit(127);
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("no command to run");
  // Everything the child needs is built before fork: no allocation after it.
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(options.env);
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    int error = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", strerror(error)));
  }
  if (pid == 0) ExecChild(options, argv.data(), envp.data(), error_pipe[1]);
  // Also from this side, so that the group exists before Spawn returns and a signal sent to
  // it at once cannot miss (the child's own call may not have run yet).
  if (options.own_process_group) setpgid(pid, pid);

  close(error_pipe[1]);
  int exec_error = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n <= 0) return pid;  // the pipe closed on exec: the command runs

  waitpid(pid, nullptr, 0);
  std::string message =
      absl::StrCat("cannot execute '", options.argv[0], "': ", strerror(exec_error));
  if (exec_error == ENOENT) return absl::NotFoundError(message);
  return absl::PermissionDeniedError(message);
}

int ExitCodeForSpawnError(const absl::Status& status) {
  return absl::IsNotFound(status) ? 127 : 126;
}

}  // namespace tend::process
