#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tend::process {

// What a process has used, as the kernel counts it.
struct Usage {
  uint64_t resident_bytes = 0;
  double cpu_seconds = 0;  // user + system
};

// Read from `proc_root`/PID/stat; nullopt when the process is gone.
std::optional<Usage> UsageOf(pid_t pid, const std::string& proc_root = "/proc");

}  // namespace tend::process
