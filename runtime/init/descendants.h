#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/init/reaper.h"

namespace tend::init {

// The processes below tend that outlive its command: what the init ends before it exits.
class Descendants {
 public:
  virtual ~Descendants() = default;
  // Whether any live process is left (zombies tend has yet to reap do not count).
  virtual bool AnyLeft() = 0;
  // Sends `signo` to each; returns how many were signalled.
  virtual int SignalAll(int signo) = 0;
};

// The children of `parent` (zombies included), from /proc/PARENT/task/*/children.
std::vector<pid_t> ChildrenOf(pid_t parent, const std::string& proc_root = "/proc");

// The live (non-zombie) processes below `root`, read from `proc_root`, nearest first.
std::vector<pid_t> ListDescendants(pid_t root, const std::string& proc_root = "/proc");

// SIGKILLs every descendant but `kept` and reaps them, waiting up to 1 s: for when tend has
// started nothing of its own yet (what a JavaScript config's evaluation left running).
void EndAllBut(const std::vector<pid_t>& kept);

// As PID 1 every other process of the namespace is a descendant: kill(-1) reaches them all.
// Otherwise the tree under tend is read from /proc, when /proc shows it.
std::unique_ptr<Descendants> DescendantsFor(ReaperRole role);

}  // namespace tend::init
