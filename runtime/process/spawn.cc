#include "runtime/process/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/process/descriptor_limit.h"
#include "runtime/signals/signals.h"

namespace tend::process {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// The child's stack, until it execs, as posix_spawn sizes it: room for what ExecChild and
// execvpe need, plus the argument vector execvpe copies onto the stack to run a script with
// /bin/sh. A guard page below it makes an overflow fault instead of writing over tend.
class ChildStack {
 public:
  static absl::StatusOr<ChildStack> For(size_t argc) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t size = (64 * 1024 + (argc + 2) * sizeof(char*) + page - 1) / page * page;
    void* mapped = mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapped == MAP_FAILED) {
      return errors::FromErrno("mmap of a child's stack");
    }
    ChildStack stack(static_cast<char*>(mapped), size + page);
    if (mprotect(mapped, page, PROT_NONE) != 0) {
      return errors::FromErrno("mprotect of a guard page");
    }
    return stack;
  }
  ChildStack(ChildStack&& other) noexcept : base_(other.base_), size_(other.size_) {
    other.base_ = nullptr;
  }
  ChildStack& operator=(ChildStack&&) = delete;
  ~ChildStack() {
    if (base_) munmap(base_, size_);
  }
  char* top() const { return base_ + size_; }

 private:
  ChildStack(char* base, size_t size) : base_(base), size_(size) {}
  char* base_;
  size_t size_;
};

// Between clone and exec only async-signal-safe calls that allocate nothing: the child
// shares tend's memory, and tend may have other threads.
[[noreturn]] void Fail(int error_pipe) {
  int error = errno;
  [[maybe_unused]] ssize_t written = write(error_pipe, &error, sizeof error);
  _exit(127);
}

// Moves the passed descriptors to 3, 4, ... First each goes above every target, so that
// one dup2 cannot overwrite a descriptor still to be moved; the copies close on exec.
// Returns where the error pipe is now.
int ArrangeFds(const SpawnOptions& options, int error_pipe) {
  if (options.stdout_fd >= 0 && dup2(options.stdout_fd, STDOUT_FILENO) < 0) Fail(error_pipe);
  if (options.stderr_fd >= 0 && dup2(options.stderr_fd, STDERR_FILENO) < 0) Fail(error_pipe);
  int count = static_cast<int>(options.pass_fds.size());
  int high[64];
  if (count > 64) Fail(error_pipe);
  for (int i = 0; i < count; ++i) {
    high[i] = fcntl(options.pass_fds[i], F_DUPFD_CLOEXEC, 3 + count + 1);
    if (high[i] < 0) Fail(error_pipe);
  }
  if (error_pipe < 3 + count + 1) {
    int moved = fcntl(error_pipe, F_DUPFD_CLOEXEC, 3 + count + 1);
    if (moved < 0) Fail(error_pipe);
    error_pipe = moved;
  }
  for (int i = 0; i < count; ++i) {
    if (dup2(high[i], 3 + i) < 0) Fail(error_pipe);
  }
  return error_pipe;
}

[[noreturn]] void ExecChild(const SpawnOptions& options, char* const* argv, char* const* envp,
                            int error_pipe, const rlimit* descriptor_limit,
                            signals::SignalMask ignored) {
  error_pipe = ArrangeFds(options, error_pipe);
  if (descriptor_limit && setrlimit(RLIMIT_NOFILE, descriptor_limit) != 0) Fail(error_pipe);
  if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) Fail(error_pipe);
  if (options.own_process_group && setpgid(0, 0) != 0) Fail(error_pipe);
  // Ignore failure, as tini does: stdin is often not a terminal, or not tend's.
  if (options.take_terminal && isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpgrp());
  // Raw system calls: glibc's wrappers would ask every thread of tend to change too, and
  // this child shares tend's memory and its list of threads, not the threads themselves.
  if (options.run_as) {
    gid_t group = options.run_as->gid;
    if (syscall(SYS_setgroups, 1, &group) != 0 || syscall(SYS_setgid, group) != 0 ||
        syscall(SYS_setuid, options.run_as->uid) != 0) {
      Fail(error_pipe);
    }
  }
  signals::ResetSignalsForExec(ignored);
  execvpe(argv[0], argv, envp);
  Fail(error_pipe);
}

// Writes the child's pid after "LISTEN_PID=" in `var`, which has room for it: without
// allocating, between clone and exec.
void WriteOwnPid(char* var) {
  char digits[20];
  int n = 0;
  for (pid_t pid = getpid(); pid > 0; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
  char* at = var + strlen("LISTEN_PID=");
  while (n > 0) *at++ = digits[--n];
  *at = '\0';
}

// What the child gets: it runs in tend's memory, on a stack of its own, until it execs.
struct Child {
  const SpawnOptions* options;
  char* const* argv;
  char* const* envp;
  char* listen_pid;  // "LISTEN_PID=" with room for the pid, or null
  int error_pipe;
  const rlimit* descriptor_limit;
  signals::SignalMask ignored;
};

int ChildMain(void* arg) {
  const Child& child = *static_cast<const Child*>(arg);
  if (child.listen_pid) WriteOwnPid(child.listen_pid);
  ExecChild(*child.options, child.argv, child.envp, child.error_pipe, child.descriptor_limit,
            child.ignored);
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("no command to run");
  // Everything the child needs is built before clone: no allocation after it.
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<std::string> env = options.env;
  if (options.listen_pid) env.push_back("LISTEN_PID=" + std::string(20, ' '));
  std::vector<char*> envp = CStrings(env);
  const rlimit* descriptor_limit = InheritedDescriptorLimit();
  Pipe error_pipe;
  if (int error = MakePipe(&error_pipe); error != 0) {
    return errors::FromErrno("pipe", error);
  }
  // As posix_spawn does: the child shares tend's memory until it execs, and tend waits
  // until then (CLONE_VFORK). A fork would copy tend's page tables and make every page tend
  // then writes fault, for a child that only execs. Signals with handlers cannot reach the
  // child in between: tend has none, it takes signals from a signalfd.
  absl::StatusOr<ChildStack> stack = ChildStack::For(options.argv.size());
  if (!stack.ok()) return stack.status();
  Child child{&options,
              argv.data(),
              envp.data(),
              options.listen_pid ? envp[env.size() - 1] : nullptr,
              error_pipe.write_end.get(),
              descriptor_limit,
              signals::IgnoredSignals()};
  pid_t pid = clone(ChildMain, stack->top(), CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  if (pid < 0) return errors::FromErrno("clone");
  // Also from this side, so that the group exists before Spawn returns and a signal sent to
  // it at once cannot miss (the child's own call may not have run yet). EACCES: the child
  // has exec'd already, after its own call; ESRCH: it has failed and exited already.
  if (options.own_process_group && setpgid(pid, pid) != 0 && errno != EACCES && errno != ESRCH) {
    int error = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return errors::FromErrno("setpgid", error);
  }

  error_pipe.write_end.reset();
  int exec_error = 0;
  ssize_t n;
  do {
    n = read(error_pipe.read_end.get(), &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return pid;  // the pipe closed on exec: the command runs

  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  // Told transient (no memory, no processes left) or permanent, as every errno is.
  return errors::FromErrno(absl::StrCat("cannot execute '", options.argv[0], "'"), exec_error);
}

int ExitCodeForSpawnError(const absl::Status& status) {
  return absl::IsNotFound(status) ? 127 : 126;
}

}  // namespace tend::process
