#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/loop/event_loop.h"
#include "runtime/process/usage.h"

namespace tend::supervise {

// pm2's max_memory_restart: every 2 s, each ready worker's resident memory is read (a /proc
// read each) and the first one above the limit is reported, to be replaced as a reload
// replaces one. One at a time: the next check finds the next.
class MemoryLimit {
 public:
  struct Candidate {
    size_t instance;
    pid_t pid;
    std::function<std::optional<process::Usage>()> usage;
  };
  // `candidates`: the workers to check now (none while the app reloads or stops).
  // `over`: the instance above the limit, and why, for the logs.
  MemoryLimit(loop::EventLoop& loop, uint64_t limit_bytes,
              std::function<std::vector<Candidate>()> candidates,
              std::function<void(size_t instance, std::string why)> over);

 private:
  void Check();

  const uint64_t limit_bytes_;
  const std::function<std::vector<Candidate>()> candidates_;
  const std::function<void(size_t, std::string)> over_;
  std::unique_ptr<loop::Timer> timer_;
};

}  // namespace tend::supervise
