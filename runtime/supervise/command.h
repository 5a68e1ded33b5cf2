#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/init/workload.h"

namespace tend::supervise {

// `tend -- CMD`: one command, run once, as tini and dumb-init run theirs. Signals go to the
// command, or to its process group with `signal_group`.
class Command : public init::Workload {
 public:
  Command(std::vector<std::string> argv, std::vector<std::string> env, bool signal_group);

  absl::Status Start() override;
  void Forward(int signo) override;
  void Stop(int signo) override { Forward(signo); }
  void Kill() override;
  bool OnExit(pid_t pid, int wait_status) override;
  bool Owns(pid_t pid) const override { return pid_ != 0 && pid == pid_; }
  bool Finished() const override { return pid_ == 0; }
  int ExitCode() const override { return exit_code_; }

 private:
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  bool signal_group_;
  pid_t pid_ = 0;  // 0 once it has exited
  int exit_code_ = 0;
};

}  // namespace tend::supervise
