#include "runtime/supervise/command.h"

#include <signal.h>

#include "runtime/init/exit_status.h"
#include "runtime/process/spawn.h"

namespace tend::supervise {

Command::Command(std::vector<std::string> argv, std::vector<std::string> env, bool signal_group)
    : argv_(std::move(argv)), env_(std::move(env)), signal_group_(signal_group) {}

absl::Status Command::Start() {
  process::SpawnOptions options;
  options.argv = argv_;
  options.env = env_;
  options.take_terminal = true;
  absl::StatusOr<pid_t> pid = process::Spawn(options);
  if (!pid.ok()) {
    exit_code_ = process::ExitCodeForSpawnError(pid.status());
    return pid.status();
  }
  pid_ = *pid;
  return absl::OkStatus();
}

void Command::Forward(int signo) {
  if (pid_ != 0) kill(signal_group_ ? -pid_ : pid_, signo);
}

void Command::Kill() {
  if (pid_ == 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);  // in case the command left its process group
}

bool Command::OnExit(pid_t pid, int wait_status) {
  if (pid_ == 0 || pid != pid_) return false;
  pid_ = 0;
  exit_code_ = init::ExitCodeOf(wait_status);
  return true;
}

}  // namespace tend::supervise
