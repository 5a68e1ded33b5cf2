#include "runtime/init/descendants.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/logs/diagnostics.h"
#include "runtime/process/usage.h"

namespace tend::init {
namespace {

class NamespaceDescendants : public Descendants {
 public:
  bool AnyLeft() override { return kill(-1, 0) == 0; }
  int SignalAll(int signo) override { return kill(-1, signo) == 0 ? 1 : 0; }
};

class ProcTreeDescendants : public Descendants {
 public:
  bool AnyLeft() override { return !ListDescendants(getpid()).empty(); }
  int SignalAll(int signo) override {
    int signalled = 0;
    for (pid_t pid : ListDescendants(getpid())) signalled += kill(pid, signo) == 0;
    return signalled;
  }
};

// Used when /proc cannot show the tree: nothing can be found safely.
class UnknownDescendants : public Descendants {
 public:
  bool AnyLeft() override { return false; }
  int SignalAll(int) override { return 0; }
};

bool ProcShowsOurTree() {
  char link[32] = {};
  ssize_t n = readlink("/proc/self", link, sizeof link - 1);
  pid_t pid;
  return n > 0 && absl::SimpleAtoi(std::string(link, n), &pid) && pid == getpid() &&
         access(absl::StrCat("/proc/self/task/", pid, "/children").c_str(), R_OK) == 0;
}

}  // namespace

// The kernel keeps each thread's children in /proc/PID/task/TID/children, so the tree under
// tend is read without scanning every process of the machine.
std::vector<pid_t> ChildrenOf(pid_t parent, const std::string& proc_root) {
  std::vector<pid_t> children;
  std::string tasks = absl::StrCat(proc_root, "/", parent, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (!dir) return children;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream file(absl::StrCat(tasks, "/", entry->d_name, "/children"));
    pid_t child;
    while (file >> child) children.push_back(child);
  }
  closedir(dir);
  return children;
}

std::vector<pid_t> ListDescendants(pid_t root, const std::string& proc_root) {
  std::vector<pid_t> found;
  std::vector<pid_t> parents = {root};
  for (size_t i = 0; i < parents.size(); ++i) {
    for (pid_t child : ChildrenOf(parents[i], proc_root)) {
      std::optional<process::ProcStat> stat = process::ReadProcStat(child, proc_root);
      if (!stat) continue;  // gone
      if (stat->state == 'Z' || stat->state == 'X') continue;
      found.push_back(child);
      parents.push_back(child);
    }
  }
  return found;
}

void EndAllBut(const std::vector<pid_t>& kept) {
  auto leftovers = [&kept] {
    std::vector<pid_t> left;
    for (pid_t pid : ListDescendants(getpid())) {
      if (std::find(kept.begin(), kept.end(), pid) == kept.end()) left.push_back(pid);
    }
    return left;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (std::vector<pid_t> left = leftovers(); !left.empty(); left = leftovers()) {
    for (pid_t pid : left) kill(pid, SIGKILL);
    ReapExited();
    if (std::chrono::steady_clock::now() >= deadline) break;
    usleep(10000);
  }
  ReapExited();
}

std::unique_ptr<Descendants> DescendantsFor(ReaperRole role) {
  if (role == ReaperRole::kPid1) return std::make_unique<NamespaceDescendants>();
  if (ProcShowsOurTree()) return std::make_unique<ProcTreeDescendants>();
  logs::Warn(
      "/proc does not show tend's process tree (another PID namespace's /proc, or no "
      "CONFIG_PROC_CHILDREN): leftover descendants cannot be found");
  return std::make_unique<UnknownDescendants>();
}

}  // namespace tend::init
